// Window/level on raw frames: one lookup table over the stored values, rebuilt per change,
// so a drag costs one table (<= 65,536 entries) and one typed-array pass over the pixels.

export const PRESETS = {
  lung: { center: -600, width: 1500 },
  bone: { center: 300, width: 1500 },
  soft: { center: 40, width: 400 },
  brain: { center: 40, width: 80 },
};

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function rgba(grey) {
  return LITTLE_ENDIAN ? (0xff000000 | (grey << 16) | (grey << 8) | grey) >>> 0 : ((grey << 24) | (grey << 16) | (grey << 8) | 0xff) >>> 0;
}

/** 1-bit frames (segmentations, overlays) come packed, first pixel in the lowest bit (PS3.5 8.1.1). */
function unpackBits(buffer, count) {
  const packed = new Uint8Array(buffer);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (packed[i >> 3] >> (i & 7)) & 1;
  return out;
}

/** The typed array of a frame's stored values. */
export function storedValues(instance, buffer) {
  if (instance.samples !== 1) return new Uint8Array(buffer);
  if (instance.bitsAllocated === 1) return unpackBits(buffer, instance.rows * instance.columns);
  if (instance.bitsAllocated === 16) return instance.signed ? new Int16Array(buffer) : new Uint16Array(buffer);
  if (instance.bitsAllocated === 32) return instance.signed ? new Int32Array(buffer) : new Uint32Array(buffer);
  return instance.signed ? new Int8Array(buffer) : new Uint8Array(buffer);
}

/** Smallest and largest stored value of a frame (the table's range). */
export function valueRange(values) {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? { min, max } : { min: 0, max: 0 };
}

/** A window covering a frame's whole modality range (when the object names none). */
export function fullWindow(instance, range) {
  const low = range.min * instance.slope + instance.intercept;
  const high = range.max * instance.slope + instance.intercept;
  return { center: (low + high) / 2, width: Math.max(1, high - low) };
}

/**
 * The table from stored value (offset by range.min) to packed RGBA, DICOM's linear
 * VOI function (PS3.3 C.11.2.1.2.1) on the modality values; MONOCHROME1 and invert flip it.
 */
export function buildLut(instance, range, window, invert) {
  const size = range.max - range.min + 1;
  const lut = new Uint32Array(size);
  const low = window.center - 0.5 - (window.width - 1) / 2;
  const scale = 255 / Math.max(1, window.width - 1);
  const flip = (instance.photometric === "MONOCHROME1") !== Boolean(invert);
  for (let i = 0; i < size; i++) {
    const modality = (i + range.min) * instance.slope + instance.intercept;
    let grey = Math.round((modality - low) * scale);
    grey = grey < 0 ? 0 : grey > 255 ? 255 : grey;
    lut[i] = rgba(flip ? 255 - grey : grey);
  }
  return lut;
}

/** Greyscale frame to packed RGBA pixels through the table. */
export function applyLut(values, offset, lut, out32) {
  const n = values.length;
  for (let i = 0; i < n; i++) out32[i] = lut[values[i] - offset];
}

/** Colour frame (8-bit RGB, interleaved or planar) to RGBA, windowed per channel. */
export function applyColour(instance, values, window, invert, out8) {
  const n = instance.rows * instance.columns;
  const low = window.center - 0.5 - (window.width - 1) / 2;
  const scale = 255 / Math.max(1, window.width - 1);
  const table = new Uint8ClampedArray(256);
  for (let v = 0; v < 256; v++) {
    const grey = Math.round((v - low) * scale);
    table[v] = invert ? 255 - grey : grey;
  }
  const planar = instance.planar === 1;
  for (let i = 0; i < n; i++) {
    const r = planar ? values[i] : values[3 * i];
    const g = planar ? values[n + i] : values[3 * i + 1];
    const b = planar ? values[2 * n + i] : values[3 * i + 2];
    out8[4 * i] = table[r];
    out8[4 * i + 1] = table[g];
    out8[4 * i + 2] = table[b];
    out8[4 * i + 3] = 255;
  }
}
