// Bundle size report: every file of dist/ with its raw and gzip (level 9) size, and the total a
// first load transfers (index.html + its scripts and styles). Run after `npm run build`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";

const dist = new URL("../dist/", import.meta.url).pathname;
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else files.push(path);
  }
};
walk(dist);
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
let raw = 0;
let gzip = 0;
for (const path of files.sort()) {
  const body = readFileSync(path);
  const zipped = gzipSync(body, { level: 9 }).length;
  raw += body.length;
  gzip += zipped;
  console.log(`${relative(dist, path).padEnd(36)} ${kb(body.length).padStart(10)} ${kb(zipped).padStart(10)} gzip`);
}
console.log(`${"first load (all files)".padEnd(36)} ${kb(raw).padStart(10)} ${kb(gzip).padStart(10)} gzip`);
