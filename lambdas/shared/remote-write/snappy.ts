/**
 * Snappy compression, block format (what remote-write's `Content-Encoding: snappy` means): the
 * algorithm of the reference C++ compressor (google/snappy `CompressFragment`), as snappyjs ports it,
 * with what makes it fast in JavaScript: 32-bit loads through a DataView (one unaligned load where
 * snappyjs assembles four bytes), `Math.imul` for the hash, words compared four bytes at a time while
 * a match is extended, one output buffer reused across calls. The output is a valid snappy block
 * (the tests decompress it with snappyjs and a real Prometheus reads it), not byte for byte what
 * snappyjs writes.
 */

/** Input is compressed in independent fragments of this size, as the reference does. */
const BLOCK_SIZE = 1 << 16;
const MAX_HASH_BITS = 14;
// Positions relative to the fragment start; 0 doubles as "empty", which only costs a failed compare.
const table = new Int32Array(1 << MAX_HASH_BITS);
let out = new Uint8Array(1 << 16);

/**
 * The most bytes compressing `n` bytes can take (snappy's `MaxCompressedLength`).
 * @param n uncompressed size
 */
export function maxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

/**
 * Compresses bytes into one snappy block: a varint of the uncompressed length, then literals and copies.
 * @param input uncompressed bytes
 * @returns a new array holding exactly the compressed bytes
 */
export function compress(input: Uint8Array): Uint8Array {
  const max = maxCompressedLength(input.length);
  if (out.length < max) out = new Uint8Array(Math.max(max, out.length * 2));
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  let op = 0;
  let n = input.length;
  while (n > 0x7f) {
    out[op++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[op++] = n;
  for (let start = 0; start < input.length; start += BLOCK_SIZE) {
    op = compressFragment(input, view, start, Math.min(start + BLOCK_SIZE, input.length), out, op);
  }
  return out.slice(0, op);
}

function compressFragment(
  input: Uint8Array,
  view: DataView,
  base: number,
  end: number,
  out: Uint8Array,
  op: number,
): number {
  const size = end - base;
  let bits = 1;
  while (1 << bits <= size && bits <= MAX_HASH_BITS) bits++;
  bits--;
  const shift = 32 - bits;
  table.fill(0, 0, 1 << bits);

  let nextEmit = base;
  const INPUT_MARGIN = 15;
  if (size >= INPUT_MARGIN) {
    const ipLimit = end - INPUT_MARGIN;
    let ip = base + 1;
    let nextHash = Math.imul(view.getInt32(ip, true), 0x1e35a7bd) >>> shift;
    outer: for (;;) {
      // Look for a 4-byte match, taking bigger strides through input that does not compress.
      let skip = 32;
      let nextIp = ip;
      let candidate: number;
      for (;;) {
        ip = nextIp;
        const hash = nextHash;
        nextIp = ip + (skip >>> 5);
        skip++;
        if (nextIp > ipLimit) break outer;
        nextHash = Math.imul(view.getInt32(nextIp, true), 0x1e35a7bd) >>> shift;
        candidate = base + (table[hash] as number);
        table[hash] = ip - base;
        if (view.getInt32(ip, true) === view.getInt32(candidate, true)) break;
      }
      op = emitLiteral(input, nextEmit, ip - nextEmit, out, op);
      // Emit copies for as long as the next position matches too.
      for (;;) {
        const from = ip;
        let matched = 4;
        while (
          ip + matched + 4 <= end &&
          view.getInt32(ip + matched, true) === view.getInt32(candidate + matched, true)
        )
          matched += 4;
        while (ip + matched < end && input[ip + matched] === input[candidate + matched]) matched++;
        ip += matched;
        op = emitCopy(out, op, from - candidate, matched);
        nextEmit = ip;
        if (ip >= ipLimit) break outer;
        table[Math.imul(view.getInt32(ip - 1, true), 0x1e35a7bd) >>> shift] = ip - 1 - base;
        const hash = Math.imul(view.getInt32(ip, true), 0x1e35a7bd) >>> shift;
        candidate = base + (table[hash] as number);
        table[hash] = ip - base;
        if (view.getInt32(ip, true) !== view.getInt32(candidate, true)) break;
      }
      ip++;
      nextHash = Math.imul(view.getInt32(ip, true), 0x1e35a7bd) >>> shift;
    }
  }
  if (nextEmit < end) op = emitLiteral(input, nextEmit, end - nextEmit, out, op);
  return op;
}

function emitLiteral(input: Uint8Array, from: number, len: number, out: Uint8Array, op: number): number {
  const n = len - 1;
  if (n < 60) out[op++] = n << 2;
  else if (n < 0x100) {
    out[op++] = 60 << 2;
    out[op++] = n;
  } else {
    // A fragment is at most 64 KiB, so two bytes always hold the length.
    out[op++] = 61 << 2;
    out[op++] = n & 0xff;
    out[op++] = n >>> 8;
  }
  if (len < 64) for (let i = 0; i < len; i++) out[op + i] = input[from + i] as number;
  else out.set(input.subarray(from, from + len), op);
  return op + len;
}

function emitCopy(out: Uint8Array, op: number, offset: number, len: number): number {
  while (len >= 68) {
    op = emitCopyUpTo64(out, op, offset, 64);
    len -= 64;
  }
  if (len > 64) {
    op = emitCopyUpTo64(out, op, offset, 60);
    len -= 60;
  }
  return emitCopyUpTo64(out, op, offset, len);
}

function emitCopyUpTo64(out: Uint8Array, op: number, offset: number, len: number): number {
  if (len < 12 && offset < 2048) {
    out[op++] = 1 | ((len - 4) << 2) | ((offset >>> 8) << 5);
    out[op++] = offset & 0xff;
  } else {
    out[op++] = 2 | ((len - 1) << 2);
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
  }
  return op;
}
