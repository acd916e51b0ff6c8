// A study's image series, read over QIDO-RS and WADO-RS metadata, and its frames on demand.

import { getBlob, getJson, getParts } from "./api.js";
import { TAG, describeInstance, sortInstances, value } from "./dicom.js";
import { Frame, RenderedFrame, isMonochrome } from "./frame.js";
import { Segmentation } from "./segmentation.js";

const DICOM_JSON = "application/dicom+json";
const PREFETCH_CONCURRENCY = 4;

function enc(uid) {
  return encodeURIComponent(uid);
}

export class Study {
  constructor(studyUid) {
    this.uid = studyUid;
    this.series = [];
    this.frames = new Map(); // "sop|n" -> Promise<Frame>
  }

  instancePath(seriesUid, sopUid) {
    return `/dicomweb/studies/${enc(this.uid)}/series/${enc(seriesUid)}/instances/${enc(sopUid)}`;
  }

  /** Load every series that holds images: its instances sorted, and its slices (instance, frame). */
  async load() {
    // A search across studies is closed to referrers (they read their own studies by UID): no title then.
    const [study] = await getJson(`/dicomweb/studies?StudyInstanceUID=${enc(this.uid)}`, DICOM_JSON).catch(() => []);
    this.title = study
      ? [value(study, TAG.patientName, ""), value(study, TAG.studyDate, ""), value(study, TAG.studyDescription, "")]
          .map((part) => String(part).replaceAll("^", " ").trim())
          .filter(Boolean)
          .join(" · ")
      : "";
    const found = await getJson(`/dicomweb/studies/${enc(this.uid)}/series`, DICOM_JSON);
    const series = await Promise.all(found.map((entry) => this.loadSeries(entry)));
    this.series = series.filter((s) => s.slices.length > 0);
    // Segmentations are drawn over the images they reference, not listed as images.
    this.segmentations = series.flatMap((s) => s.segmentations);
    this.series.sort((a, b) => (a.number ?? 1e9) - (b.number ?? 1e9));
    return this;
  }

  async loadSeries(entry) {
    const uid = value(entry, TAG.seriesUid);
    const metadata = await getJson(`/dicomweb/studies/${enc(this.uid)}/series/${enc(uid)}/metadata`, DICOM_JSON);
    const segmentations = metadata.filter(Segmentation.isSegmentation).map((d) => new Segmentation(this, d));
    const images = metadata.filter((d) => !Segmentation.isSegmentation(d));
    const instances = sortInstances(images.map(describeInstance).filter(Boolean));
    const slices = [];
    for (const instance of instances) {
      for (let n = 1; n <= instance.frames; n++) slices.push({ instance, frame: n });
    }
    return {
      uid,
      modality: value(entry, TAG.modality, ""),
      number: value(entry, TAG.seriesNumber, null),
      description: value(entry, TAG.seriesDescription, ""),
      instances,
      slices,
      segmentations,
    };
  }

  /** Segmentations stored since the study was opened (an analysis just filed one); true when any was new. */
  async loadNewSegmentations() {
    const found = await getJson(`/dicomweb/studies/${enc(this.uid)}/series?Modality=SEG`, DICOM_JSON);
    const known = new Set(this.segmentations.map((s) => s.seriesUid));
    const fresh = found.filter((entry) => !known.has(value(entry, TAG.seriesUid)));
    const series = await Promise.all(fresh.map((entry) => this.loadSeries(entry)));
    const added = series.flatMap((s) => s.segmentations);
    this.segmentations.push(...added);
    return added.length > 0;
  }

  /** The frame of a slice, fetched once: raw little-endian pixels (WADO-RS /frames), or a PNG rendering for colour. */
  frame(slice) {
    const key = `${slice.instance.sopUid}|${slice.frame}`;
    if (!this.frames.has(key)) {
      const path = `${this.instancePath(slice.instance.seriesUid, slice.instance.sopUid)}/frames/${slice.frame}`;
      const promise = isMonochrome(slice.instance)
        ? getParts(path, "application/octet-stream").then(([buffer]) => new Frame(slice.instance, buffer))
        : this.renderedFrame(slice.instance, path);
      promise.catch(() => this.frames.delete(key));
      this.frames.set(key, promise);
    }
    return this.frames.get(key);
  }

  /** Palette, YBR and RGB frames as the server renders them (lossless PNG, converted to RGB). */
  async renderedFrame(instance, path) {
    const blob = await getBlob(`${path}/rendered`, "image/png");
    return new RenderedFrame(instance, await createImageBitmap(blob));
  }

  isLoaded(slice) {
    return this.frames.has(`${slice.instance.sopUid}|${slice.frame}`);
  }

  /** Fetch a series' frames in the background, nearest to `from` first; stops when `alive()` turns false. */
  async prefetch(series, from, alive) {
    const order = series.slices
      .map((slice, index) => ({ slice, distance: Math.abs(index - from) }))
      .sort((a, b) => a.distance - b.distance)
      .map((item) => item.slice);
    const next = () => order.shift();
    const worker = async () => {
      for (let slice = next(); slice && alive(); slice = next()) {
        if (!this.isLoaded(slice)) await this.frame(slice).catch(() => null);
      }
    };
    await Promise.all(Array.from({ length: PREFETCH_CONCURRENCY }, worker));
  }

  /** A small rendered JPEG of a series' middle slice, as an object URL. */
  async thumbnail(series) {
    const { instance } = series.slices[Math.floor(series.slices.length / 2)];
    const blob = await getBlob(`${this.instancePath(series.uid, instance.sopUid)}/rendered`, "image/jpeg");
    return URL.createObjectURL(blob);
  }
}
