/**
 * Where the certificate comes from, and how a new one is noticed. A source keeps the certificate
 * in use (`current`) and the one before it (`previous`): when Entra refuses the current one
 * (say the new Key Vault version is not attached yet) the previous one is tried.
 *
 * The file source watches the file's directory (editors and `kubectl`-style secret mounts replace
 * files by rename, which a watch on the file itself misses) and also polls its size and mtime, for
 * file systems where watching does not work (network shares, some containers).
 */
import { type FSWatcher, watch } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { DigestSigner } from "./assertion.js";
import { type CertificateInfo, type LocalCertificate, readCertificateFile } from "./certificate.js";
import { describe } from "./errors.js";

export interface LoadedCertificate {
  info: CertificateInfo;
  /** What makes two loads the same certificate: content hash or Key Vault version id. */
  identity: string;
  /** Set when the private key is held locally. */
  local?: LocalCertificate;
  /** Set when the key lives in Key Vault. */
  sign?: DigestSigner;
  /** Key Vault key id (with version), when `sign` is set. */
  keyId?: string;
}

export interface CertificateSource {
  readonly current: LoadedCertificate;
  readonly previous: LoadedCertificate | undefined;
  /** Reads the source again; true when a different certificate is now current. */
  reload(): Promise<boolean>;
  close(): void;
}

export interface ReloadHooks {
  onChange?: (from: CertificateInfo, to: CertificateInfo) => void;
  onError?: (error: Error) => void;
}

export function fromLocal(cert: LocalCertificate): LoadedCertificate {
  return { info: cert.info, identity: cert.contentHash, local: cert };
}

/** A fixed certificate (the `certificate` PEM option): never changes. */
export class StaticSource implements CertificateSource {
  readonly previous = undefined;
  constructor(readonly current: LoadedCertificate) {}
  async reload(): Promise<boolean> {
    return false;
  }
  close(): void {}
}

export class FileSource implements CertificateSource {
  private cur: LoadedCertificate;
  private prev: LoadedCertificate | undefined;
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private lastStat = "";
  private loading: Promise<boolean> | undefined;
  private closed = false;

  private constructor(
    private readonly path: string,
    first: LocalCertificate,
    private readonly hooks: ReloadHooks,
  ) {
    this.cur = fromLocal(first);
  }

  static async open(
    path: string,
    opts: { watch: boolean; pollIntervalMs: number; first?: LocalCertificate } & ReloadHooks,
  ): Promise<FileSource> {
    const s = new FileSource(path, opts.first ?? (await readCertificateFile(path)), opts);
    s.lastStat = await s.statKey();
    if (opts.watch) s.startWatch();
    if (opts.pollIntervalMs > 0) {
      s.poller = setInterval(() => void s.poll(), opts.pollIntervalMs);
      s.poller.unref();
    }
    return s;
  }

  get current(): LoadedCertificate {
    return this.cur;
  }
  get previous(): LoadedCertificate | undefined {
    return this.prev;
  }

  /** Re-reads the file. A file that cannot be used (half written, wrong key) keeps the old one. */
  reload(): Promise<boolean> {
    this.loading ??= (async () => {
      try {
        const next = await readCertificateFile(this.path);
        if (next.contentHash === this.cur.identity) return false;
        const from = this.cur.info;
        this.prev = this.cur;
        this.cur = fromLocal(next);
        this.hooks.onChange?.(from, next.info);
        return true;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.poller) clearInterval(this.poller);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private startWatch(): void {
    const name = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        if (file !== null && file !== name) return;
        this.soon();
      });
      this.watcher.on("error", () => {
        // Watching stopped working (directory gone, too many watchers): polling carries on.
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined;
    }
  }

  /** Writers produce several events per change; read once things settle. */
  private soon(): void {
    if (this.closed) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.quietReload(), 50);
    this.debounce.unref();
  }

  private async poll(): Promise<void> {
    const key = await this.statKey();
    if (key === this.lastStat) return;
    await this.quietReload();
  }

  private async quietReload(): Promise<void> {
    if (this.closed) return;
    this.lastStat = await this.statKey();
    try {
      await this.reload();
    } catch (e) {
      this.hooks.onError?.(e instanceof Error ? e : new Error(describe(e)));
    }
  }

  private async statKey(): Promise<string> {
    try {
      const s = await stat(this.path);
      return `${s.size}:${s.mtimeMs}:${s.ino}`;
    } catch {
      return "missing";
    }
  }
}
