/** Scatter's client-side formats in the browser, byte for byte those of scatter/formats (docs/formats.md). */
export { Decryptor, Encryptor, SegmentCipher, ciphertextLength, decryptBytes, encryptBytes, newContentKey, type AeadHeader } from "./aead";
export * from "./bytes";
export * from "./errors";
export * from "./keyderiv";
export { decryptMetadata, encryptMetadata, metadataFromCbor, metadataToCbor, withNewVersion, type FileMetadata, type FileVersion } from "./metadata";
export * from "./params";
export * from "./possession";
export * from "./sharelink";
export { carHeader, CarBuilder, MemorySpool, openCarBlob, openCarStream, type CarSpool } from "./car";
export { blobReader, chunkReader, decodeShards, encodeBytes, fileIdOf, packShardHeader, ShardEncoder, ShardSet, StripeLayout, unpackShardHeader, type ShardHeader, type ShardReader } from "./erasure";
export { CHUNK_SIZE, exportFile, MAX_LINKS, UnixFSImporter, type Block } from "./unixfs";
export { loadWasm } from "./wasm";
