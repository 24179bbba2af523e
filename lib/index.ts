export * from './archive-retention';
export * from './audit-digests';
export * from './embedding-gateway';
export * from './gateway-network';
export * from './policy';
export * from './revocation-table';
export * from './session-archive';
export * from './upstream-model';
