/** What the UI calls: see README.md in this directory. */
export { carSha256, encodeFile, fileVersionOf, READ_SIZE, type EncodedFile, type EncodedShard, type EncodeParams, type EncodeProgress } from "./encode";
export { CarDir, removeLeftovers } from "./spool";
export { decodeFile, type DecodeOptions, type DecodeProgress, type ShardInput } from "./decode";
export { CAR_UPLOAD_TYPES, carUploadTypedData, downloadFile, fetchCar, pushCar, PushRejectedError, type CarUpload, type PushOptions, type ShardSource } from "./hoster";
