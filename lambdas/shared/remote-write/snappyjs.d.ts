/** Types for snappyjs 0.7 (the package ships none): snappy block format, no framing. */
declare module 'snappyjs' {
  interface SnappyJs {
    /** Compresses a whole buffer into one snappy block; returns the input's type (Buffer stays Buffer). */
    compress<T extends Uint8Array | ArrayBuffer>(uncompressed: T): T;
    /** Decompresses one snappy block; throws when it would exceed `maxLength` bytes. */
    uncompress<T extends Uint8Array | ArrayBuffer>(compressed: T, maxLength?: number): T;
  }
  const snappy: SnappyJs;
  export = snappy;
}
