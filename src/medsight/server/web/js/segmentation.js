// DICOM Segmentations (BINARY) of a study drawn as coloured overlays, one toggle per segment.
//
// A SEG's WADO-RS metadata says, per frame, which segment it holds and which source
// image it was derived from (Derivation Image Sequence > Source Image Sequence), and
// where it lies (Plane Position). A displayed image gets the frames that reference its
// SOP Instance UID, or, for a SEG without such references, the frames in the same Frame
// of Reference whose plane lies within half a pixel of it. Frames are fetched once
// (WADO-RS /frames, 1 bit per pixel, first pixel in the lowest bit) and composed into one
// RGBA canvas per image, in each segment's recommended display colour.

import { getParts } from "./api.js";
import { numbers, value } from "./dicom.js";

export const SEGMENTATION_SOP_CLASSES = ["1.2.840.10008.5.1.4.1.1.66.4"];

const T = {
  sopClass: "00080016",
  sopUid: "00080018",
  seriesUid: "0020000E",
  frameOfReference: "00200052",
  rows: "00280010",
  columns: "00280011",
  segmentationType: "00620001",
  contentDescription: "00700081",
  segments: "00620002",
  segmentNumber: "00620004",
  segmentLabel: "00620005",
  labColour: "0062000D",
  segmentIdentification: "0062000A",
  referencedSegment: "0062000B",
  perFrame: "52009230",
  shared: "52009229",
  derivation: "00089124",
  sourceImage: "00082112",
  referencedSop: "00081155",
  planePosition: "00209113",
  planeOrientation: "00209116",
  position: "00200032",
  orientation: "00200037",
};

const POSITION_TOLERANCE_MM = 0.5;

function items(dataset, tag) {
  return (dataset && dataset[tag] && dataset[tag].Value) || [];
}

/** DICOM's scaled CIELab (PS3.3 C.10.7.1.1) to sRGB 0..255, D65 white. */
export function labToRgb(scaled) {
  const L = (scaled[0] * 100) / 65535;
  const a = (scaled[1] * 255) / 65535 - 128;
  const b = (scaled[2] * 255) / 65535 - 128;
  const fy = (L + 16) / 116;
  const fx = fy + a / 500;
  const fz = fy - b / 200;
  const inv = (t) => (t ** 3 > 0.008856 ? t ** 3 : (t - 16 / 116) / 7.787);
  const [x, y, z] = [0.95047 * inv(fx), inv(fy), 1.08883 * inv(fz)];
  const linear = [
    3.2406 * x - 1.5372 * y - 0.4986 * z,
    -0.9689 * x + 1.8758 * y + 0.0415 * z,
    0.0557 * x - 0.204 * y + 1.057 * z,
  ];
  return linear.map((c) => {
    const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
    return Math.max(0, Math.min(255, Math.round(v * 255)));
  });
}

function firstOf(dataset, sequence, tag) {
  const [item] = items(dataset, sequence);
  return item ? numbers(item, tag) : null;
}

/** One Segmentation instance: its segments, its frames and where each lies. */
export class Segmentation {
  constructor(study, dataset) {
    this.study = study;
    this.sopUid = value(dataset, T.sopUid);
    this.seriesUid = value(dataset, T.seriesUid);
    this.frameOfReference = value(dataset, T.frameOfReference, null);
    this.rows = Number(value(dataset, T.rows, 0));
    this.columns = Number(value(dataset, T.columns, 0));
    this.description = String(value(dataset, T.contentDescription, ""));
    this.segments = items(dataset, T.segments).map((item) => ({
      number: Number(value(item, T.segmentNumber)),
      label: String(value(item, T.segmentLabel, "")),
      colour: numbers(item, T.labColour) ? labToRgb(numbers(item, T.labColour)) : [255, 0, 0],
      visible: true,
    }));
    const [shared] = items(dataset, T.shared);
    const sharedOrientation = firstOf(shared, T.planeOrientation, T.orientation);
    this.frames = items(dataset, T.perFrame).map((group, index) => {
      const [identification] = items(group, T.segmentIdentification);
      const sources = items(group, T.derivation).flatMap((d) => items(d, T.sourceImage));
      return {
        number: index + 1,
        segment: identification ? Number(value(identification, T.referencedSegment)) : null,
        sources: sources.map((s) => value(s, T.referencedSop)).filter(Boolean),
        position: firstOf(group, T.planePosition, T.position),
        orientation: firstOf(group, T.planeOrientation, T.orientation) || sharedOrientation,
      };
    });
    this.bits = new Map(); // frame number -> Promise<Uint8Array of 0/1>
    this.layers = new Map(); // "sop|visible numbers" -> Promise<canvas | null>
  }

  static isSegmentation(dataset) {
    return SEGMENTATION_SOP_CLASSES.includes(value(dataset, T.sopClass));
  }

  /** The frames drawn over `instance`: by referenced source image, else by plane in the same frame of reference. */
  framesFor(instance, frameOfReference) {
    const referenced = this.frames.filter((f) => f.sources.includes(instance.sopUid));
    if (referenced.length > 0 || !this.frameOfReference || this.frameOfReference !== frameOfReference) return referenced;
    if (!instance.position || !instance.orientation) return [];
    return this.frames.filter((f) => samePlane(f, instance));
  }

  /** A canvas (columns x rows of the SEG) with the visible segments over `instance`, or null when none lies there. */
  layerFor(instance, frameOfReference) {
    const visible = this.segments.filter((s) => s.visible);
    const key = `${instance.sopUid}|${visible.map((s) => s.number).join(",")}`;
    if (!this.layers.has(key)) {
      const frames = this.framesFor(instance, frameOfReference).filter((f) => visible.some((s) => s.number === f.segment));
      this.layers.set(key, frames.length ? this.compose(frames, visible) : Promise.resolve(null));
    }
    return this.layers.get(key);
  }

  async compose(frames, visible) {
    const masks = await Promise.all(frames.map((f) => this.frameBits(f.number)));
    const canvas = document.createElement("canvas");
    canvas.width = this.columns;
    canvas.height = this.rows;
    const context = canvas.getContext("2d");
    const image = context.createImageData(this.columns, this.rows);
    const colours = new Map(visible.map((s) => [s.number, s.colour]));
    frames.forEach((frame, k) => {
      const [r, g, b] = colours.get(frame.segment);
      const mask = masks[k];
      for (let i = 0; i < mask.length; i++) {
        if (!mask[i]) continue;
        image.data[4 * i] = r;
        image.data[4 * i + 1] = g;
        image.data[4 * i + 2] = b;
        image.data[4 * i + 3] = 255;
      }
    });
    context.putImageData(image, 0, 0);
    return canvas;
  }

  frameBits(number) {
    if (!this.bits.has(number)) {
      const path = `${this.study.instancePath(this.seriesUid, this.sopUid)}/frames/${number}`;
      const promise = getParts(path, "application/octet-stream").then(([buffer]) => {
        const packed = new Uint8Array(buffer);
        const count = this.rows * this.columns;
        const out = new Uint8Array(count);
        for (let i = 0; i < count; i++) out[i] = (packed[i >> 3] >> (i & 7)) & 1;
        return out;
      });
      promise.catch(() => this.bits.delete(number));
      this.bits.set(number, promise);
    }
    return this.bits.get(number);
  }

  /** Show or hide one segment (the composed layers are rebuilt on the next draw). */
  setVisible(number, visible) {
    const segment = this.segments.find((s) => s.number === number);
    if (segment) segment.visible = visible;
  }
}

function samePlane(frame, instance) {
  if (!frame.position || !frame.orientation) return false;
  const o = instance.orientation;
  if (frame.orientation.some((v, k) => Math.abs(v - o[k]) > 1e-3)) return false;
  const normal = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
  const d = [0, 1, 2].map((k) => frame.position[k] - instance.position[k]);
  return Math.abs(d[0] * normal[0] + d[1] * normal[1] + d[2] * normal[2]) <= POSITION_TOLERANCE_MM
    && Math.hypot(...d) <= POSITION_TOLERANCE_MM + 1e-6;
}

const $ = (id) => document.getElementById(id);

/**
 * The viewer's segmentation overlay: the study's SEGs, the panel of per-segment toggles,
 * and the composed layer of the displayed image (kept until the image or a toggle changes).
 */
export class SegmentationOverlay {
  constructor(redraw) {
    this.redraw = redraw;
    this.segmentations = [];
    this.visible = true;
    this.opacity = 0.5;
    this.current = null; // { sopUid, canvases }
    this.instance = null;
    this.generation = 0;
    $("segment-toggle").addEventListener("change", (e) => this.setShown(e.target.checked));
    $("segment-opacity").addEventListener("input", (e) => {
      this.opacity = Number(e.target.value) / 100;
      this.redraw();
    });
  }

  /** Take the study's segmentations and list their segments, each with its colour and a toggle. */
  open(study) {
    this.close();
    this.segmentations = study.segmentations || [];
    const list = $("segment-list");
    for (const segmentation of this.segmentations) {
      if (this.segmentations.length > 1) {
        // Several SEGs (tasks, model versions): say which one each group of toggles belongs to.
        const heading = document.createElement("li");
        heading.className = "muted";
        heading.textContent = segmentation.description || "Segmentation";
        list.append(heading);
      }
      for (const segment of segmentation.segments) {
        const item = document.createElement("li");
        const label = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.checked = segment.visible;
        box.dataset.segment = String(segment.number);
        box.addEventListener("change", () => {
          segmentation.setVisible(segment.number, box.checked);
          this.refresh();
        });
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = `rgb(${segment.colour.join(",")})`;
        label.append(box, swatch, document.createTextNode(` ${segment.label || `Segment ${segment.number}`}`));
        item.append(label);
        list.append(item);
      }
    }
    $("segment-controls").hidden = this.segmentations.length === 0;
  }

  close() {
    this.generation += 1;
    this.segmentations = [];
    this.current = null;
    this.instance = null;
    $("segment-list").replaceChildren();
    $("segment-controls").hidden = true;
  }

  setShown(shown) {
    this.visible = shown;
    $("segment-toggle").checked = shown;
    this.redraw();
  }

  /** Compose the layer of `instance` (fetching its frames), then redraw. */
  async update(instance) {
    this.instance = instance;
    if (this.segmentations.length === 0) return;
    const generation = this.generation;
    const canvases = await Promise.all(
      this.segmentations.map((s) => s.layerFor(instance, instance.frameOfReference).catch(() => null)),
    );
    if (generation !== this.generation || this.instance !== instance) return;
    this.current = { sopUid: instance.sopUid, canvases: canvases.filter(Boolean) };
    this.redraw();
  }

  refresh() {
    if (this.instance) this.update(this.instance);
  }

  /** What View.draw needs over `instance`, or null. */
  layerFor(instance) {
    if (!this.visible || !instance || !this.current || this.current.sopUid !== instance.sopUid) return null;
    return this.current.canvases.length ? { canvases: this.current.canvases, opacity: this.opacity } : null;
  }
}
