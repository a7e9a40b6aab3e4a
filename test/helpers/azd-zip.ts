/**
 * What `azd deploy` does with a Functions service's build folder, for the packaging test:
 * zip the folder named by azure.yaml `dist`, leaving out what its `.funcignore` names, the
 * ignore file itself, `.azure/` and `local.settings.json`
 * (azure-dev cli/azd/pkg/project/project_utils.go, createDeployableZip; the walk is
 * cli/azd/pkg/rzip/rzip.go, which skips the whole subtree of an excluded directory), and
 * whether azd would turn remote build on (service_target_functionapp.go,
 * resolveFunctionAppRemoteBuild: the project folder's `.funcignore` excluding `node_modules`
 * turns it on, and with `remoteBuild: false` azd refuses such a file).
 *
 * The ignore rules are gitignore's (azd uses github.com/denormal/go-gitignore): `#` comments,
 * `!` negation, a trailing `/` for directories only, a pattern with a `/` anchored at the root,
 * `*`, `?` and `**` wildcards, the last matching rule winning. The zip is a plain PKZIP archive
 * (deflate), read back by `unzipTo`.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";

interface Rule {
  negate: boolean;
  dirOnly: boolean;
  regex: RegExp;
}

function globToRegex(glob: string, anchored: boolean): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      // `**/` any number of directories; a trailing `**` everything below.
      if (glob[i + 2] === "/") {
        re += "(?:.*/)?";
        i += 2;
      } else {
        re += ".*";
        i += 1;
      }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(anchored ? `^${re}$` : `(?:^|/)${re}$`);
}

export function parseIgnore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const raw of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    let line = raw.replace(/\s+$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    if (negate) line = line.slice(1);
    const dirOnly = line.endsWith("/");
    if (dirOnly) line = line.slice(0, -1);
    const anchored = line.includes("/");
    if (line.startsWith("/")) line = line.slice(1);
    rules.push({ negate, dirOnly, regex: globToRegex(line, anchored) });
  }
  return rules;
}

/** Whether the rules exclude `path` (relative, `/`-separated); the last matching rule wins. */
export function ignored(rules: Rule[], path: string, isDir: boolean): boolean {
  let result = false;
  for (const r of rules) {
    if (r.dirOnly && !isDir) continue;
    if (r.regex.test(path)) result = !r.negate;
  }
  return result;
}

/** azd's decision for a TypeScript Functions service on Flex Consumption. */
export function azdRemoteBuild(projectIgnore: string | undefined, remoteBuild: boolean | undefined): boolean {
  if (projectIgnore === undefined) return remoteBuild ?? true;
  const excludesNodeModules = ignored(parseIgnore(projectIgnore), "node_modules", true);
  if (remoteBuild === undefined) return excludesNodeModules;
  if (remoteBuild && !excludesNodeModules)
    throw new Error("'remoteBuild: true' requires .funcignore to exclude node_modules");
  if (!remoteBuild && excludesNodeModules)
    throw new Error("'remoteBuild: false' cannot be used when .funcignore excludes node_modules");
  return remoteBuild;
}

/** The files azd puts in the zip, relative to `root`, in walk order. */
export function azdZipEntries(root: string, ignoreFile = ".funcignore"): string[] {
  let rules: Rule[] = [];
  try {
    rules = parseIgnore(readFileSync(join(root, ignoreFile), "utf8"));
  } catch {
    // No ignore file: azd's defaults (node_modules stays when remoteBuild is false).
  }
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name);
      const isDir = statSync(abs).isDirectory();
      const rel = relative(root, abs).split(sep).join("/");
      if (name === ".azure" && isDir) continue;
      if (name === ignoreFile && !isDir) continue;
      if (name === "local.settings.json" && !isDir) continue;
      if (ignored(rules, rel, isDir)) continue;
      if (isDir) walk(abs);
      else out.push(rel);
    }
  };
  walk(root);
  return out;
}

/** A zip (deflate) of the given files under `root`. */
export function zip(root: string, files: string[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const name of files) {
    const data = readFileSync(join(root, name));
    const packed = deflateRawSync(data);
    const nameBuf = Buffer.from(name, "utf8");
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4);
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x0800, 8);
    entry.writeUInt16LE(8, 10);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(packed.length, 20);
    entry.writeUInt32LE(data.length, 24);
    entry.writeUInt16LE(nameBuf.length, 28);
    entry.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, packed);
    central.push(entry, nameBuf);
    offset += local.length + nameBuf.length + packed.length;
  }
  const dir = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

/** Extracts a zip made by `zip` (or any deflate/stored PKZIP) into `dir`; returns the names. */
export function unzipTo(archive: Buffer, dir: string): string[] {
  const endAt = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0) throw new Error("not a zip: no end of central directory");
  const count = archive.readUInt16LE(endAt + 10);
  let at = archive.readUInt32LE(endAt + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    if (archive.readUInt32LE(at) !== 0x02014b50) throw new Error("bad central directory entry");
    const method = archive.readUInt16LE(at + 10);
    const crc = archive.readUInt32LE(at + 16);
    const size = archive.readUInt32LE(at + 20);
    const nameLen = archive.readUInt16LE(at + 28);
    const extraLen = archive.readUInt16LE(at + 30);
    const commentLen = archive.readUInt16LE(at + 32);
    const localAt = archive.readUInt32LE(at + 42);
    const name = archive.subarray(at + 46, at + 46 + nameLen).toString("utf8");
    const dataAt = localAt + 30 + archive.readUInt16LE(localAt + 26) + archive.readUInt16LE(localAt + 28);
    const raw = archive.subarray(dataAt, dataAt + size);
    const data = method === 8 ? inflateRawSync(raw) : Buffer.from(raw);
    if (crc32(data) !== crc) throw new Error(`CRC mismatch for ${name}`);
    if (name.split("/").includes("..")) throw new Error(`unsafe entry ${name}`);
    const target = join(dir, name);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
    names.push(name);
    at += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}
