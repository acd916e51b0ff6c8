// One decoded frame: its stored values, their range, and its rendering at a window.
//
// A frame shown smaller than its size (a 2048 x 2048 radiograph fitted to a laptop screen)
// is windowed at a reduced level of detail: 2 x 2 means of the stored values, made once
// per frame, so a window/level drag costs a quarter (or a sixteenth) of the pixels. The
// level is never coarser than the screen, and pixel values under the cursor always come
// from the full-resolution values.

import { applyColour, applyLut, buildLut, fullWindow, storedValues, valueRange } from "./lut.js";

class Level {
  constructor(values, columns, rows) {
    this.values = values;
    this.columns = columns;
    this.rows = rows;
    this.canvas = null; // made when first drawn, dropped when another frame is shown
    this.drawn = null; // the window and invert last drawn
  }

  /** The canvas and RGBA buffer this level draws into (4 bytes a pixel: only the shown frame keeps one). */
  surface() {
    if (!this.canvas) {
      this.canvas = document.createElement("canvas");
      this.canvas.width = this.columns;
      this.canvas.height = this.rows;
      this.context = this.canvas.getContext("2d");
      this.image = this.context.createImageData(this.columns, this.rows);
      this.pixels32 = new Uint32Array(this.image.data.buffer);
    }
    return this;
  }

  release() {
    this.canvas = this.context = this.image = this.pixels32 = this.drawn = null;
  }

  /** The next level: each value the mean of a 2 x 2 block (odd edges dropped). */
  halved() {
    const columns = this.columns >> 1;
    const rows = this.rows >> 1;
    const out = new this.values.constructor(columns * rows);
    const source = this.values;
    const stride = this.columns;
    for (let r = 0; r < rows; r++) {
      const top = 2 * r * stride;
      const bottom = top + stride;
      const row = r * columns;
      for (let c = 0; c < columns; c++) {
        const x = 2 * c;
        out[row + c] = (source[top + x] + source[top + x + 1] + source[bottom + x] + source[bottom + x + 1]) / 4;
      }
    }
    return new Level(out, columns, rows);
  }
}

const MIN_LEVEL_SIDE = 256;

export class Frame {
  constructor(instance, buffer) {
    this.instance = instance;
    this.values = storedValues(instance, buffer);
    this.colour = instance.samples !== 1;
    this.range = this.colour ? { min: 0, max: 255 } : valueRange(this.values);
    this.levels = [new Level(this.values, instance.columns, instance.rows)];
    this.current = this.levels[0];
  }

  /** The window the object asks for, else one that covers its values. */
  defaultWindow() {
    if (this.colour) return { center: 127.5, width: 256 };
    return this.instance.window || fullWindow(this.instance, this.range);
  }

  /** The coarsest level still at least as fine as the screen at this display scale. */
  level(scale) {
    let index = 0;
    if (!this.colour) {
      while (scale * 2 ** (index + 1) <= 1 && Math.min(this.instance.columns, this.instance.rows) >> (index + 1) >= MIN_LEVEL_SIDE) {
        index += 1;
      }
    }
    while (this.levels.length <= index) this.levels.push(this.levels[this.levels.length - 1].halved());
    return this.levels[index];
  }

  /** Draw the frame at a window for a display scale (skipped when nothing changed); returns the ms taken. */
  render(window, invert, scale = 1) {
    const level = this.level(scale).surface();
    this.current = level;
    const key = `${window.center}|${window.width}|${invert}`;
    if (level.drawn === key) return 0;
    const started = performance.now();
    if (this.colour) {
      applyColour(this.instance, level.values, window, invert, level.image.data);
    } else {
      const lut = buildLut(this.instance, this.range, window, invert);
      applyLut(level.values, this.range.min, lut, level.pixels32);
    }
    level.context.putImageData(level.image, 0, 0);
    level.drawn = key;
    return performance.now() - started;
  }

  /** Drop what only drawing needs (canvases, RGBA buffers, reduced levels); the values stay. */
  release() {
    for (const level of this.levels) level.release();
    this.levels.length = 1;
    this.current = this.levels[0];
  }

  /** The canvas last rendered (drawn stretched to the frame's full size). */
  get canvas() {
    return this.current.canvas;
  }

  /** The modality value (HU for CT) at column c, row r; null outside the image or for colour. */
  valueAt(c, r) {
    const { rows, columns, slope, intercept } = this.instance;
    if (this.colour || c < 0 || r < 0 || c >= columns || r >= rows) return null;
    return this.values[r * columns + c] * slope + intercept;
  }
}

/** True for MONOCHROME1/2, the frames the viewer windows itself; any other is drawn as the server renders it. */
export function isMonochrome(instance) {
  return instance.photometric === "MONOCHROME1" || instance.photometric === "MONOCHROME2";
}

// A colour frame (palette, YBR, RGB) as the server's WADO-RS rendering (converted to RGB
// by medsight.io): the same interface as Frame, without window/level or pixel values.
export class RenderedFrame {
  constructor(instance, bitmap) {
    this.instance = instance;
    this.bitmap = bitmap;
    this.colour = true;
    this.rendered = true;
    this.range = { min: 0, max: 255 };
  }

  defaultWindow() {
    return { center: 127.5, width: 256 };
  }

  /** Nothing to window: the rendering is drawn as it is. */
  render() {
    return 0;
  }

  release() {}

  get canvas() {
    return this.bitmap;
  }

  valueAt() {
    return null;
  }
}
