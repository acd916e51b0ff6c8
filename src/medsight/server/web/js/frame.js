// One decoded frame: its stored values, their range, and its rendering at a window.

import { applyColour, applyLut, buildLut, fullWindow, storedValues, valueRange } from "./lut.js";

export class Frame {
  constructor(instance, buffer) {
    this.instance = instance;
    this.values = storedValues(instance, buffer);
    this.colour = instance.samples !== 1;
    this.range = this.colour ? { min: 0, max: 255 } : valueRange(this.values);
    this.canvas = document.createElement("canvas");
    this.canvas.width = instance.columns;
    this.canvas.height = instance.rows;
    this.context = this.canvas.getContext("2d");
    this.image = this.context.createImageData(instance.columns, instance.rows);
    this.pixels32 = new Uint32Array(this.image.data.buffer);
    this.drawn = null; // the window and invert last drawn
  }

  /** The window the object asks for, else one that covers its values. */
  defaultWindow() {
    if (this.colour) return { center: 127.5, width: 256 };
    return this.instance.window || fullWindow(this.instance, this.range);
  }

  /** Draw the frame at a window into its own canvas (skipped when nothing changed); returns the ms taken. */
  render(window, invert) {
    const key = `${window.center}|${window.width}|${invert}`;
    if (this.drawn === key) return 0;
    const started = performance.now();
    if (this.colour) {
      applyColour(this.instance, this.values, window, invert, this.image.data);
    } else {
      const lut = buildLut(this.instance, this.range, window, invert);
      applyLut(this.values, this.range.min, lut, this.pixels32);
    }
    this.context.putImageData(this.image, 0, 0);
    this.drawn = key;
    return performance.now() - started;
  }

  /** The modality value (HU for CT) at column c, row r; null outside the image or for colour. */
  valueAt(c, r) {
    const { rows, columns, slope, intercept } = this.instance;
    if (this.colour || c < 0 || r < 0 || c >= columns || r >= rows) return null;
    return this.values[r * columns + c] * slope + intercept;
  }
}
