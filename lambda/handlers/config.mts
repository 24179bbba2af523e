/**
 * The configuration of this deployment, for the Lambda entries: `deployedConfig()` awaited at
 * module scope (ES module, top-level await), so an entry that imports `config` from here starts
 * with it, and a configuration that cannot be read fails the function's init.
 */
import { deployedConfig } from './deployed.js';

export const config = await deployedConfig();
