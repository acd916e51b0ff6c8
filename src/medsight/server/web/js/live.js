// Live mode: play frames as if from a probe, stream them to /api/v1/streams/{task}, draw answers as they come.
//
// Frames come from image files (PNG/JPEG, one per frame) or from a cine DICOM, which is
// sent to the service (STOW-RS) and read back frame by frame as rendered JPEGs (WADO-RS):
// the browser never parses DICOM itself. The token goes in the stream's first message
// ({"type": "auth"}), since a browser cannot set headers on a WebSocket; never in the URL.
// Like a probe, the page never queues: a frame is skipped while the socket still holds
// unsent data, and the server answers the newest frame it could take.

import { getJson, request } from "./api.js";
import { stowBody } from "./multipart.js";
import { getToken } from "./session.js";

const $ = (id) => document.getElementById(id);
const HIGH_WATER = 1 << 20; // bytes still unsent on the socket above which a frame is skipped

/** The binary stream message: 4-byte big-endian header length, JSON header, encoded pixels. */
export function packFrame(header, pixels) {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + pixels.byteLength);
  new DataView(out.buffer).setUint32(0, json.length, false);
  out.set(json, 4);
  out.set(new Uint8Array(pixels), 4 + json.length);
  return out.buffer;
}

/** Percentile of numbers (nearest rank). */
function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function framesFromImages(files) {
  const sorted = [...files].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  return { frames: await Promise.all(sorted.map((file) => createImageBitmap(file))), frameMs: null, spacing: null };
}

const tagValue = (dataset, tag) => (dataset[tag] && dataset[tag].Value ? dataset[tag].Value[0] : undefined);

async function framesFromDicom(file) {
  const { body, contentType } = stowBody([file]);
  const response = await request("/dicomweb/studies", {
    method: "POST", headers: { "Content-Type": contentType, Accept: "application/dicom+json" }, body,
  });
  const stored = await response.json();
  const reference = (stored["00081199"] && stored["00081199"].Value) || [];
  const url = reference.length ? tagValue(reference[0], "00081190") : undefined;
  if (!url) throw new Error("the service did not store the file (is it a DICOM cine?)");
  const path = new URL(url, location.href).pathname;
  const [meta] = await getJson(`${path}/metadata`, "application/dicom+json");
  const count = Number(tagValue(meta, "00280008") || 1);
  const spacing = (meta["00280030"] && meta["00280030"].Value) || null;
  const frames = [];
  for (let n = 1; n <= count; n += 1) {
    const blob = await (await request(`${path}/frames/${n}/rendered`, { headers: { Accept: "image/png" } })).blob();
    frames.push(await createImageBitmap(blob));
  }
  return { frames, frameMs: Number(tagValue(meta, "00181063")) || null, spacing };
}

/** The live view: pick frames, start, stop; the canvas shows each frame and the newest answer over it. */
export class Live {
  constructor() {
    this.canvas = $("live-canvas");
    this.source = null;
    this.socket = null;
    this.latencies = [];
    $("live-files").addEventListener("change", (event) => this.load(event.target.files));
    $("live-start").addEventListener("click", () => this.start());
    $("live-stop").addEventListener("click", () => this.stop());
    $("live-reset").addEventListener("click", () => this.reset());
  }

  status(text) {
    $("live-status").textContent = text;
  }

  async load(files) {
    this.stop();
    if (!files.length) return;
    this.status("Reading frames…");
    try {
      const dicom = files.length === 1 && !/^image\//.test(files[0].type);
      this.source = dicom ? await framesFromDicom(files[0]) : await framesFromImages(files);
      const first = this.source.frames[0];
      $("live-fps").value = this.source.frameMs ? Math.round(1000 / this.source.frameMs) : $("live-fps").value;
      this.status(`${this.source.frames.length} frames of ${first.width}x${first.height} ready.`);
      $("live-start").disabled = false;
    } catch (error) {
      this.status(`Cannot read the frames: ${error.message}`);
    }
  }

  start() {
    if (!this.source || this.socket) return;
    const task = $("live-task").value;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/streams/${encodeURIComponent(task)}`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.counts = { sent: 0, skipped: 0 };
    this.latencies = [];
    this.last = null;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", token: getToken() })));
    socket.addEventListener("message", (event) => this.answer(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => this.closed(event));
    $("live-start").disabled = true;
    $("live-stop").disabled = false;
    $("live-reset").disabled = false;
    this.status("Connecting…");
  }

  answer(message) {
    if (message.type === "ready") {
      this.device = message.device_id || "viewer";
      this.status(`Streaming to ${message.task} (${message.model.name} ${message.model.version}).`);
      this.play();
    } else if (message.type === "result") {
      this.latencies.push(message.latency_ms);
      this.last = message;
      this.showResult(message);
    } else if (message.type === "summary") {
      this.status(`Stopped: ${message.received} frames received, ${message.answered} answered, ${message.dropped} dropped.`);
    }
  }

  play() {
    const fps = Math.max(1, Math.min(60, Number($("live-fps").value) || 30));
    let index = 0;
    this.timer = setInterval(() => {
      const frames = this.source.frames;
      this.send(frames[index % frames.length], index);
      index += 1;
    }, 1000 / fps);
  }

  async send(bitmap, index) {
    this.draw(bitmap);
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    if (this.socket.bufferedAmount > HIGH_WATER) {
      this.counts.skipped += 1; // like a probe: never queue behind a slow link
      return;
    }
    const scratch = new OffscreenCanvas(bitmap.width, bitmap.height);
    scratch.getContext("2d").drawImage(bitmap, 0, 0);
    const blob = await scratch.convertToBlob({ type: "image/jpeg", quality: 0.9 });
    const frame = { index, encoding: "jpeg", rows: bitmap.height, columns: bitmap.width };
    const given = Number($("live-spacing").value);
    if (given > 0) frame.pixel_spacing_mm = [given, given];
    else if (this.source.spacing) frame.pixel_spacing_mm = this.source.spacing.map(Number);
    const header = { schema: 1, device_id: this.device, timestamp: Date.now() / 1000, frame };
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(packFrame(header, await blob.arrayBuffer()));
      this.counts.sent += 1;
    }
  }

  draw(bitmap) {
    if (this.canvas.width !== bitmap.width) this.canvas.width = bitmap.width;
    if (this.canvas.height !== bitmap.height) this.canvas.height = bitmap.height;
    const ctx = this.canvas.getContext("2d");
    ctx.drawImage(bitmap, 0, 0);
    const ellipse = this.last && this.last.result && this.last.result.ellipse;
    if (ellipse) {
      ctx.strokeStyle = "#5ad17a";
      ctx.lineWidth = Math.max(2, bitmap.width / 300);
      ctx.beginPath();
      ctx.ellipse(ellipse.cx, ellipse.cy, ellipse.semi_major, ellipse.semi_minor, (ellipse.angle_deg * Math.PI) / 180, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }

  showResult(message) {
    const rows = [];
    const result = message.result || {};
    if (result.refused) rows.push(["refused", result.refused.reason]);
    for (const [name, value] of Object.entries(message.smoothed || {})) {
      rows.push([name, `${value.value}${value.stable ? " (stable)" : " (settling)"}${value.outlier ? ", last frame rejected" : ""}`]);
    }
    if (!rows.length && result.probability !== undefined) rows.push(["probability", result.probability]);
    rows.push(["frame", `${message.frame}: ${message.latency_ms.toFixed(1)} ms on the server`]);
    rows.push(["answered / dropped", `${message.answered} / ${message.dropped}`]);
    rows.push(["server p50 / p95", `${percentile(this.latencies, 50).toFixed(1)} / ${percentile(this.latencies, 95).toFixed(1)} ms`]);
    const list = $("live-result");
    list.replaceChildren(...rows.flatMap(([term, detail]) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = String(detail);
      return [dt, dd];
    }));
    const stable = Object.values(message.smoothed || {}).some((value) => value.stable);
    $("live-stable").hidden = !stable;
  }

  /** The probe moved to another view: the server forgets the smoothing history. */
  reset() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "reset" }));
    $("live-stable").hidden = true;
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "end" }));
    $("live-stop").disabled = true;
    $("live-reset").disabled = true;
  }

  closed(event) {
    clearInterval(this.timer);
    this.socket = null;
    $("live-start").disabled = !this.source;
    $("live-stop").disabled = true;
    $("live-reset").disabled = true;
    if (event.code !== 1000) this.status(`The stream closed (${event.code}): ${event.reason || "connection lost"}`);
  }
}
