/** The errors of scatter.formats.errors, same names and messages (docs/formats.md, section 8). */
export class ScatterError extends Error {
  override name = "ScatterError";
}
/** Bad magic, malformed field or length, non-canonical link or record. */
export class FormatError extends ScatterError {
  override name = "FormatError";
}
/** An unknown format version, algorithm or codec. */
export class UnsupportedVersionError extends FormatError {
  override name = "UnsupportedVersionError";
  constructor(what: string, version: number, supported: readonly number[]) {
    super(
      `unsupported ${what} version ${version} (this release reads ${supported.join(", ")}); ` +
        "upgrade scatter to read it",
    );
  }
}
/** k/n, block or segment size out of range. */
export class InvalidParametersError extends ScatterError {
  override name = "InvalidParametersError";
}
/** Wrong content key, wrong wallet, altered metadata. */
export class WrongKeyError extends ScatterError {
  override name = "WrongKeyError";
}
/** A segment failed authentication. */
export class TamperedError extends ScatterError {
  override name = "TamperedError";
  constructor(
    message: string,
    readonly segment: number | null = null,
  ) {
    super(message);
  }
}
/** The ciphertext ends early. */
export class TruncatedError extends ScatterError {
  override name = "TruncatedError";
}
/** One identified shard is unusable (a block failing its CID, truncated, unreadable). */
export class BadShardError extends ScatterError {
  override name = "BadShardError";
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}
export class TruncatedShardError extends BadShardError {
  override name = "TruncatedShardError";
}
/** Fewer than k usable shards. */
export class NotEnoughShardsError extends ScatterError {
  override name = "NotEnoughShardsError";
  constructor(
    readonly have: number,
    readonly need: number,
    detail = "",
  ) {
    super(
      `not enough shards: have ${have} usable, need ${need}${detail ? ` (${detail})` : ""}; ` +
        `fetch ${need - have} more shard(s)`,
    );
  }
}
/** Shards of different files or parameters. */
export class MismatchedShardsError extends ScatterError {
  override name = "MismatchedShardsError";
}
/** Encrypted metadata over the 16 KiB entry limit. */
export class MetadataTooLargeError extends ScatterError {
  override name = "MetadataTooLargeError";
}
/** The decrypted file does not match its recorded sha256 (scatter.errors.ScatterIntegrityError). */
export class IntegrityError extends ScatterError {
  override name = "ScatterIntegrityError";
}
