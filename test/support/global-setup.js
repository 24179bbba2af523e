// Once per jest run. The supported Node.js versions are 22 and 24 (package.json engines, .ci/run);
// on an older Node the AWS SDK prints a 9-line NodeVersionSupportWarning in every process that
// loads it: say it once here instead.
'use strict';
module.exports = async () => {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    process.stderr.write(
      `\nnote: Node.js ${process.versions.node} is older than the supported 22 (package.json engines); .ci/run tests on Node 22\n`,
    );
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  }
};
