/// <reference types="vite/client" />

declare module "virtual:scatter-abi" {
  import type { Abi } from "viem";
  export const marketAbi: Abi;
  export const fileRegistryAbi: Abi;
}
