// The image viewer: series thumbnails, the canvas, window/level, zoom, pan, slices, cine, measure.

import { distanceMm, patientPoint } from "./dicom.js";
import { PRESETS } from "./lut.js";
import { SegmentationOverlay } from "./segmentation.js";
import { Study } from "./study.js";
import { View } from "./view.js";
import { bindKeys, bindPointer } from "./tools.js";

const $ = (id) => document.getElementById(id);

export class Viewer {
  constructor() {
    this.view = new View($("image-canvas"));
    this.study = null;
    this.series = null;
    this.index = 0;
    this.frame = null;
    this.window = null;
    this.invert = false;
    this.tool = "window";
    this.measure = null;
    this.overlay = { image: null, sopUid: null, visible: true, opacity: 0.6 };
    this.segmentation = new SegmentationOverlay(() => this.redraw());
    this.cine = null;
    this.generation = 0;
    this.thumbnails = []; // object URLs of the series previews, revoked when the study closes
    this.perf = { openedAt: 0, firstImageMs: null, renderMs: null, drawMs: null };
    window.medsightViewer = this; // for the browser tests and the bench
    this.bindControls();
    bindPointer(this);
    bindKeys(this);
    new ResizeObserver(() => this.redraw()).observe($("canvas-wrap"));
  }

  bindControls() {
    for (const button of document.querySelectorAll("[data-tool]")) {
      button.addEventListener("click", () => this.setTool(button.dataset.tool));
    }
    $("wl-preset").addEventListener("change", (e) => this.applyPreset(e.target.value));
    $("btn-fit").addEventListener("click", () => this.fit());
    $("btn-invert").addEventListener("click", () => this.toggleInvert());
    $("btn-reset").addEventListener("click", () => this.reset());
    $("btn-cine").addEventListener("click", () => this.toggleCine());
    $("slice-slider").addEventListener("input", (e) => this.showSlice(Number(e.target.value) - 1));
    $("heatmap-toggle").addEventListener("change", (e) => this.setOverlay({ visible: e.target.checked }));
    $("heatmap-opacity").addEventListener("input", (e) => this.setOverlay({ opacity: Number(e.target.value) / 100 }));
  }

  /** Open a study: its series in the side panel, the first (or the analysed) series on the canvas. */
  async open(studyUid, preferredSop = null) {
    this.closeImages(); // the overlay stays: the results panel may have set it already
    const generation = this.generation;
    this.perf.openedAt = performance.now();
    this.status("Loading study…");
    this.study = new Study(studyUid);
    await this.study.load();
    if (generation !== this.generation) return;
    $("study-title").textContent = this.study.title;
    this.listSeries();
    this.segmentation.open(this.study);
    if (this.study.series.length === 0) {
      this.status("This study holds no image.");
      return;
    }
    const analysed = preferredSop && this.study.series.find((s) => s.instances.some((i) => i.sopUid === preferredSop));
    await this.openSeries(analysed || this.study.series[0]);
  }

  close() {
    this.closeImages();
    this.overlay = { ...this.overlay, image: null, sopUid: null };
  }

  closeImages() {
    this.generation += 1;
    this.perf = { openedAt: performance.now(), firstImageMs: null, renderMs: null, drawMs: null };
    this.stopCine();
    this.study = null;
    this.series = null;
    this.frame?.release();
    this.frame = null;
    this.measure = null;
    this.segmentation.close();
    $("series-list").replaceChildren();
    for (const url of this.thumbnails) URL.revokeObjectURL(url);
    this.thumbnails = [];
    $("study-title").textContent = "";
    $("cursor-info").textContent = "\u00a0";
    $("measure-info").textContent = "";
    this.status("");
    this.view.draw(null);
  }

  status(text) {
    $("image-status").textContent = text;
  }

  listSeries() {
    const list = $("series-list");
    list.replaceChildren();
    for (const series of this.study.series) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "series-thumb";
      button.setAttribute("aria-label", `Series ${series.number ?? ""} ${series.modality} ${series.description}, ${series.slices.length} images`);
      const image = document.createElement("img");
      image.alt = "";
      const caption = document.createElement("span");
      caption.textContent = `${series.modality} ${series.number ?? ""} · ${series.slices.length} img`;
      const description = document.createElement("span");
      description.className = "muted";
      description.textContent = series.description || "";
      button.append(image, caption, description);
      button.addEventListener("click", () => this.openSeries(series));
      series.button = button;
      item.append(button);
      list.append(item);
      this.study.thumbnail(series).then((url) => {
        this.thumbnails.push(url);
        image.src = url;
      }).catch(() => { image.alt = "no preview"; });
    }
  }

  async openSeries(series) {
    this.stopCine();
    this.series = series;
    this.window = null;
    this.measure = null;
    for (const s of this.study.series) s.button?.setAttribute("aria-current", s === series ? "true" : "false");
    const slider = $("slice-slider");
    slider.max = String(series.slices.length);
    slider.disabled = series.slices.length < 2;
    $("btn-cine").disabled = series.slices.length < 2;
    const start = 0;
    await this.showSlice(start, { fit: true });
    const generation = this.generation;
    this.study.prefetch(series, start, () => generation === this.generation && this.series === series);
  }

  /** Show slice `index` of the current series (fetching its frame if needed). */
  async showSlice(index, { fit = false } = {}) {
    if (!this.series) return;
    const count = this.series.slices.length;
    this.index = Math.max(0, Math.min(count - 1, index));
    const slice = this.series.slices[this.index];
    $("slice-slider").value = String(this.index + 1);
    $("slice-info").textContent = `${this.index + 1} / ${count}`;
    const wanted = this.index;
    if (!this.study.isLoaded(slice)) this.status("Loading image…");
    let frame;
    try {
      frame = await this.study.frame(slice);
    } catch (error) {
      this.status(`Image not available: ${error.message}`);
      return;
    }
    if (!this.series || this.index !== wanted || frame.instance !== slice.instance) return;
    this.status("");
    if (this.frame && this.frame !== frame) this.frame.release(); // keep one frame's canvases, not a series'
    this.frame = frame;
    this.segmentation.update(frame.instance);
    if (!this.window) this.window = frame.defaultWindow();
    if (fit || this.view.fitted) {
      this.view.resize();
      this.view.fit(frame.instance.columns, frame.instance.rows);
    }
    this.redraw();
    if (this.perf.firstImageMs === null) this.perf.firstImageMs = performance.now() - this.perf.openedAt;
  }

  step(delta) {
    return this.showSlice(this.index + delta);
  }

  redraw() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.drawNow();
    });
  }

  /** Render and draw synchronously; returns the time taken in ms (the W/L redraw the bench measures). */
  drawNow() {
    const started = performance.now();
    if (this.view.resize() && this.frame && this.view.fitted) this.view.fit(this.frame.instance.columns, this.frame.instance.rows);
    if (this.frame) this.perf.renderMs = this.frame.render(this.window, this.invert, this.view.scale);
    const showOverlay = this.frame && this.overlay.sopUid === this.frame.instance.sopUid ? this.overlay : null;
    this.view.draw(this.frame, showOverlay, this.measure, this.segmentation.layerFor(this.frame?.instance));
    this.perf.drawMs = performance.now() - started;
    $("wl-info").textContent = this.windowText();
    return this.perf.drawMs;
  }

  /** The status bar's window/level, or why there is none (colour is drawn as rendered). */
  windowText() {
    if (this.frame?.rendered) return `Colour (${this.frame.instance.photometric}): window/level does not apply`;
    return this.window ? `W ${Math.round(this.window.width)} L ${Math.round(this.window.center)}` : "";
  }

  setTool(tool) {
    this.tool = tool;
    for (const button of document.querySelectorAll("[data-tool]")) {
      button.setAttribute("aria-pressed", String(button.dataset.tool === tool));
    }
  }

  setWindow(center, width) {
    this.window = { center, width: Math.max(1, width) };
    this.redraw();
  }

  applyPreset(name) {
    $("wl-preset").value = name;
    const preset = PRESETS[name];
    if (preset) this.setWindow(preset.center, preset.width);
    else if (this.frame) this.setWindow(this.frame.defaultWindow().center, this.frame.defaultWindow().width);
  }

  toggleInvert() {
    this.invert = !this.invert;
    $("btn-invert").setAttribute("aria-pressed", String(this.invert));
    this.redraw();
  }

  fit() {
    if (!this.frame) return;
    this.view.fit(this.frame.instance.columns, this.frame.instance.rows);
    this.redraw();
  }

  reset() {
    this.invert = false;
    $("btn-invert").setAttribute("aria-pressed", "false");
    $("wl-preset").value = "";
    this.measure = null;
    $("measure-info").textContent = "";
    if (this.frame) this.window = this.frame.defaultWindow();
    this.fit();
  }

  toggleCine() {
    if (this.cine) this.stopCine();
    else this.startCine();
  }

  startCine() {
    if (!this.series || this.series.slices.length < 2) return;
    const interval = this.series.slices[0].instance.frameTime || 100;
    $("btn-cine").setAttribute("aria-pressed", "true");
    $("btn-cine").textContent = "Stop";
    let busy = false;
    this.cine = setInterval(async () => {
      if (busy) return; // a frame still loading: wait for it rather than skip ahead
      busy = true;
      await this.showSlice((this.index + 1) % this.series.slices.length);
      busy = false;
    }, interval);
  }

  stopCine() {
    if (this.cine) clearInterval(this.cine);
    this.cine = null;
    $("btn-cine").setAttribute("aria-pressed", "false");
    $("btn-cine").textContent = "Play";
  }

  /** Draw segmentations filed after the study was opened (a volume analysis that just finished). */
  async refreshSegmentations() {
    const study = this.study;
    if (!study || !(await study.loadNewSegmentations().catch(() => false)) || study !== this.study) return;
    this.segmentation.open(study);
    if (this.frame) this.segmentation.update(this.frame.instance);
  }

  setOverlay(change) {
    this.overlay = { ...this.overlay, ...change };
    $("heatmap-toggle").checked = this.overlay.visible;
    this.redraw();
  }

  /** Describe the pixel under the pointer: value and patient coordinate. */
  describePoint(point) {
    if (!this.frame) return;
    const c = Math.floor(point.x);
    const r = Math.floor(point.y);
    const value = this.frame.valueAt(c, r);
    if (value === null) {
      $("cursor-info").textContent = "\u00a0";
      return;
    }
    const unit = this.series.modality === "CT" ? " HU" : "";
    const p = patientPoint(this.frame.instance, c, r);
    const where = p ? ` · (${p.map((v) => v.toFixed(1)).join(", ")}) mm` : "";
    $("cursor-info").textContent = `x ${c} y ${r} · ${Number(value.toFixed(2))}${unit}${where}`;
  }

  /** Finish or update the distance measurement between two image points. */
  setMeasure(a, b) {
    const mm = distanceMm(this.frame.instance, a, b);
    const label = mm === null ? `${Math.hypot(b.x - a.x, b.y - a.y).toFixed(1)} px` : `${mm.toFixed(1)} mm`;
    const note = this.frame.instance.spacingIsDetector ? " (at detector)" : "";
    this.measure = { a, b, label: label + note };
    $("measure-info").textContent = `Distance ${label}${note}`;
    this.redraw();
  }
}
