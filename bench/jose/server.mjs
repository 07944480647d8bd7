// The stock JOSE yardstick for bench/verify.sh: a minimal Node server that
// verifies {"document": "<compact JWS>"} with npm jose against the one key
// in the JWKS file given, and answers whether it verified. Nothing else: no
// registry, no status, no log.
//   node server.mjs PORT JWKS_FILE
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import * as jose from "jose";

const [port, jwksFile] = process.argv.slice(2);
const jwk = JSON.parse(readFileSync(jwksFile, "utf8")).keys[0];
const key = await jose.importJWK(jwk, jwk.alg || "ES256");

createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/verify") {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    let valid = false;
    try {
      const { document } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      await jose.compactVerify(document, key);
      valid = true;
    } catch {
      valid = false;
    }
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ valid }));
  });
}).listen(Number(port), "127.0.0.1");
