import { describe, expect, it } from "vitest";
import { toHex } from "../src/formats/bytes";
import { FormatError } from "../src/formats/errors";
import { formatShareLink, parseShareLink } from "../src/formats/sharelink";
import { vector } from "./vectors";

const v = vector<{ url: string; https_url: string }>("formats/sharelink_v1.json");
const aead = vector<{ content_key: string }>("formats/aead_v1.json");

describe("share link v1", () => {
  it("parses the vector links and formats them back", () => {
    const link = parseShareLink(v.url);
    expect(link.k).toBe(3);
    expect(link.shards).toHaveLength(6);
    expect(toHex(link.contentKey)).toBe(aead.content_key);
    expect(link.name).toBe("report é.pdf");
    expect(formatShareLink(link)).toBe(v.url);
    expect(formatShareLink(parseShareLink(v.https_url), "https://app.scatter.example/open")).toBe(v.https_url);
  });

  it("refuses damaged links, naming the problem", () => {
    const bad = [
      [v.url.replace("#key=", "#kee="), /fragment fields/],
      [v.url.split("#")[0] as string, /key part/],
      [v.url.replace("k=3", "k=03"), /decimal/],
      [v.url.replace("&n=6", "&n=6&n=6"), /twice/],
      [v.url.replace("AAEC", "AAE"), /key/],
      [v.url.replace("name=report%20", "name=report+"), /canonical/],
      [v.url.replace("bafkreib422byum5fwzv5rq7whgctamspgo5wgtcuehrgmioyqfpblc2ozu", "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"), /CIDv1/],
      [v.url.replace("bafkreib422byum5fwzv5rq7whgctamspgo5wgtcuehrgmioyqfpblc2ozu", "bafkreib2shnwavuj3p5ijkijsdbjdal755lmrzhsxghrrwfgyxm7e7buoy"), /distinct/],
      [v.url.replace("scatter:file", "http://evil.example"), /base/],
    ] as const;
    for (const [url, why] of bad) expect(() => parseShareLink(url), url).toThrow(why);
    expect(() => parseShareLink(v.url + " ")).toThrow(FormatError);
  });
});

const v2 = vector<{ url: string; https_url: string }>("formats/sharelink_v2.json");

describe("share link v2 (chain, Market, hoster hints)", () => {
  it("parses the vector links and formats them back", () => {
    const link = parseShareLink(v2.url);
    expect(link.version).toBe(2);
    expect(link.chainId).toBe(11155111);
    expect(link.market).toBe("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    expect(link.hosts).toEqual(["https://hoster-a.example:8443", "http://203.0.113.7:9010/base"]);
    expect(formatShareLink(link)).toBe(v2.url);
    expect(formatShareLink(parseShareLink(v2.https_url), "https://app.scatter.example/open")).toBe(v2.https_url);
    const { hosts: _, ...noHints } = link;
    expect(parseShareLink(formatShareLink({ ...noHints })).hosts).toBeUndefined();
  });

  it("refuses a market not in EIP-55 form, a v1 link with a chain, and a hint that is not http(s)", () => {
    expect(() => parseShareLink(v2.url.replace("0x5FbDB2315678afecb367f032d93F642f64180aa3", "0x5fbdb2315678afecb367f032d93f642f64180aa3"))).toThrow(/EIP-55/);
    expect(() => parseShareLink(v2.url.replace("v=2", "v=1"))).toThrow(/unknown/);
    expect(() => parseShareLink(v2.url.replace("https%3A%2F%2Fhoster-a", "ftp%3A%2F%2Fhoster-a"))).toThrow(/host/);
    expect(() => parseShareLink(v2.url.replace("v=2", "v=3"))).toThrow(/unsupported share link version 3/);
  });
});
