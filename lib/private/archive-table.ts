/**
 * The Glue table input of the session archive: schema v1 columns, JSON SerDe, and partition
 * projection over the `sessions/dt=YYYY-MM-DD/hr=HH/` layout, so Athena needs no crawler and no
 * `MSCK REPAIR`, and prunes to the partitions a query's `dt`/`hr` predicates allow.
 */
import type * as glue from 'aws-cdk-lib/aws-glue';
import { PARTITION_KEYS, SESSION_COLUMNS, glueTypeString, type GlueField } from '../../shared/glue-columns';

/** Key prefix of the records in the archive bucket (see `recordKey` in lambda/core/record.ts). */
export const RECORDS_PREFIX = 'sessions/';

export const JSON_SERDE = 'org.openx.data.jsonserde.JsonSerDe';
export const TEXT_INPUT_FORMAT = 'org.apache.hadoop.mapred.TextInputFormat';
export const TEXT_OUTPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat';

function columns(fields: readonly GlueField[]): glue.CfnTable.ColumnProperty[] {
  return fields.map((c) => ({ name: c.name, type: glueTypeString(c.type), ...(c.comment ? { comment: c.comment } : {}) }));
}

export interface SessionTableOptions {
  readonly tableName: string;
  readonly bucketName: string;
  /** First `dt` partition, `YYYY-MM-DD`. */
  readonly projectionStartDate: string;
}

export function sessionTableInput(o: SessionTableOptions): glue.CfnTable.TableInputProperty {
  const root = `s3://${o.bucketName}/${RECORDS_PREFIX}`;
  return {
    name: o.tableName,
    description: 'embedgate session records, schema embedgate.session.v1 (one JSON object per request)',
    tableType: 'EXTERNAL_TABLE',
    parameters: {
      EXTERNAL: 'TRUE',
      classification: 'json',
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': `${o.projectionStartDate},NOW`,
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
      'projection.hr.type': 'integer',
      'projection.hr.range': '00,23',
      'projection.hr.digits': '2',
      'storage.location.template': `${root}dt=\${dt}/hr=\${hr}/`,
    },
    partitionKeys: columns(PARTITION_KEYS),
    storageDescriptor: {
      columns: columns(SESSION_COLUMNS),
      location: root,
      inputFormat: TEXT_INPUT_FORMAT,
      outputFormat: TEXT_OUTPUT_FORMAT,
      compressed: false,
      storedAsSubDirectories: false,
      serdeInfo: {
        serializationLibrary: JSON_SERDE,
        // Malformed records fail the query instead of being skipped: an audit must not silently miss rows.
        parameters: { 'ignore.malformed.json': 'false', 'dots.in.keys': 'false', 'case.insensitive': 'true' },
      },
    },
  };
}
