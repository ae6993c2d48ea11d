// The committed format vectors (tests/testdata), shared with the Python tests.
import { readFileSync } from "node:fs";
import { fromHex } from "../src/formats/bytes";

const root = new URL("../../tests/testdata/", import.meta.url);

export function vector<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, root), "utf8")) as T;
}

export const hex = fromHex;
