/**
 * The metadata key (scatter/formats/keyderiv.py): HKDF over the owner's deterministic EIP-712
 * signature of one fixed message, so the same wallet gets the same key in the CLI and the dapp:
 *
 *   ikm = r || s   (s normalised to the low half, v dropped)
 *   key = HKDF-SHA256(ikm, salt = "scatter/metadata-key/v1", info = "scatter/metadata-key/v1/aes-256-gcm", 32)
 */
import { type Account, type Address, type WalletClient, recoverTypedDataAddress } from "viem";
import { hkdf } from "./aead";
import { type Bytes, fromHex, type Hex, toHex, utf8 } from "./bytes";
import { InvalidParametersError, WrongKeyError } from "./errors";

export const KEY_VERSION = 1;
const HKDF_SALT = utf8("scatter/metadata-key/v1");
const HKDF_INFO = utf8("scatter/metadata-key/v1/aes-256-gcm");
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export const PURPOSE =
  "Unlock my private Scatter files. This signature is the key to the names and " +
  "content keys of my files: sign it only in a Scatter app I trust.";

/** The typed data every Scatter app asks the wallet to sign (domain without chainId: same key on every chain). */
export const KEY_REQUEST_TYPED_DATA = {
  domain: { name: "Scatter", version: "1" },
  types: {
    MetadataKeyRequest: [
      { name: "purpose", type: "string" },
      { name: "keyVersion", type: "uint32" },
    ],
  },
  primaryType: "MetadataKeyRequest",
  message: { purpose: PURPOSE, keyVersion: KEY_VERSION },
} as const;

/** The 32-byte metadata key from the wallet's 65-byte signature of the key request. */
export async function metadataKeyFromSignature(signature: Hex | Uint8Array): Promise<Bytes> {
  const sig = typeof signature === "string" ? fromHex(signature) : signature;
  if (sig.length !== 65) throw new InvalidParametersError(`an Ethereum signature is 65 bytes (r, s, v), got ${sig.length}`);
  const r = BigInt(`0x${toHex(sig.subarray(0, 32))}`);
  let s = BigInt(`0x${toHex(sig.subarray(32, 64))}`);
  if (!(r > 0n && r < SECP256K1_N && s > 0n && s < SECP256K1_N)) {
    throw new InvalidParametersError("signature r or s out of range: not a secp256k1 signature");
  }
  if (s > SECP256K1_N / 2n) s = SECP256K1_N - s;
  const ikm = new Uint8Array(64);
  ikm.set(sig.subarray(0, 32));
  const sBytes = fromHex(s.toString(16).padStart(64, "0"));
  ikm.set(sBytes, 32);
  return hkdf(ikm, HKDF_SALT, HKDF_INFO, 32);
}

/**
 * Ask the wallet to sign the key request, check who signed, derive the key. With
 * `checkDeterministic` it signs twice and refuses a wallet whose signatures differ.
 */
export async function deriveMetadataKey(
  wallet: WalletClient,
  account: Account | Address,
  checkDeterministic = false,
): Promise<Bytes> {
  const sign = (): Promise<Hex> => wallet.signTypedData({ account, ...KEY_REQUEST_TYPED_DATA });
  const signature = await sign();
  const address = typeof account === "string" ? account : account.address;
  const signer = await recoverTypedDataAddress({ ...KEY_REQUEST_TYPED_DATA, signature });
  if (signer.toLowerCase() !== address.toLowerCase()) {
    throw new WrongKeyError(`the key request was signed by ${signer}, not by the owner ${address}; switch accounts`);
  }
  const key = await metadataKeyFromSignature(signature);
  if (checkDeterministic && toHex(await metadataKeyFromSignature(await sign())) !== toHex(key)) {
    throw new InvalidParametersError(
      "this wallet's signatures are not deterministic (RFC 6979), so it cannot derive a stable " +
        "metadata key; use a wallet that signs deterministically",
    );
  }
  return key;
}
