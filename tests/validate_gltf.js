// Validate GLB files with the Khronos glTF validator; prints one JSON report per file, one per line.
// Usage: node validate_gltf.js PATH_TO_gltf-validator FILE.glb...
const fs = require("fs");
const validator = require(process.argv[2]);

async function main() {
  for (const file of process.argv.slice(3)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), { maxIssues: 50 });
    console.log(JSON.stringify({ file, issues: report.issues }));
  }
}

main().catch((error) => {
  console.error(String(error));
  process.exit(1);
});
