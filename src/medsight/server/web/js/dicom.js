// DICOM JSON (PS3.18 Annex F): the attributes the viewer needs, read once per instance.

export const TAG = {
  studyUid: "0020000D",
  seriesUid: "0020000E",
  sopUid: "00080018",
  modality: "00080060",
  seriesNumber: "00200011",
  seriesDescription: "0008103E",
  instanceNumber: "00200013",
  rows: "00280010",
  columns: "00280011",
  frames: "00280008",
  samples: "00280002",
  photometric: "00280004",
  planar: "00280006",
  bitsAllocated: "00280100",
  bitsStored: "00280101",
  pixelRepresentation: "00280103",
  slope: "00281053",
  intercept: "00281052",
  windowCenter: "00281050",
  windowWidth: "00281051",
  pixelSpacing: "00280030",
  imagerPixelSpacing: "00181164",
  position: "00200032",
  orientation: "00200037",
  frameTime: "00181063",
  frameRate: "00082144",
  frameOfReference: "00200052",
  patientName: "00100010",
  studyDescription: "00081030",
  studyDate: "00080020",
};

/** The first value of an attribute (a PN as its alphabetic form), or fallback. */
export function value(dataset, tag, fallback = undefined) {
  const element = dataset[tag];
  if (!element || !element.Value || element.Value.length === 0) return fallback;
  const first = element.Value[0];
  if (first && typeof first === "object" && "Alphabetic" in first) return first.Alphabetic;
  return first;
}

/** Every value of an attribute, as numbers. */
export function numbers(dataset, tag) {
  const element = dataset[tag];
  if (!element || !element.Value) return null;
  return element.Value.map(Number);
}

/** What it takes to draw and measure one instance (null when it holds no image). */
export function describeInstance(dataset) {
  const rows = Number(value(dataset, TAG.rows, 0));
  const columns = Number(value(dataset, TAG.columns, 0));
  if (!rows || !columns) return null;
  const center = numbers(dataset, TAG.windowCenter);
  const width = numbers(dataset, TAG.windowWidth);
  const spacing = numbers(dataset, TAG.pixelSpacing);
  const imagerSpacing = numbers(dataset, TAG.imagerPixelSpacing);
  const frameTime = Number(value(dataset, TAG.frameTime, 0)) || (1000 / Number(value(dataset, TAG.frameRate, 0))) || 0;
  return {
    sopUid: value(dataset, TAG.sopUid),
    seriesUid: value(dataset, TAG.seriesUid),
    instanceNumber: Number(value(dataset, TAG.instanceNumber, 0)),
    rows,
    columns,
    frames: Number(value(dataset, TAG.frames, 1)) || 1,
    samples: Number(value(dataset, TAG.samples, 1)),
    photometric: value(dataset, TAG.photometric, "MONOCHROME2"),
    planar: Number(value(dataset, TAG.planar, 0)),
    bitsAllocated: Number(value(dataset, TAG.bitsAllocated, 16)),
    bitsStored: Number(value(dataset, TAG.bitsStored, 16)),
    signed: Number(value(dataset, TAG.pixelRepresentation, 0)) === 1,
    slope: Number(value(dataset, TAG.slope, 1)) || 1,
    intercept: Number(value(dataset, TAG.intercept, 0)),
    window: center && width && width[0] > 0 ? { center: center[0], width: width[0] } : null,
    // Pixel Spacing is [between rows, between columns] (PS3.3 10.7.1.3).
    spacing: spacing || imagerSpacing || null,
    spacingIsDetector: !spacing && Boolean(imagerSpacing),
    position: numbers(dataset, TAG.position),
    orientation: numbers(dataset, TAG.orientation),
    frameOfReference: value(dataset, TAG.frameOfReference, null),
    frameTime: frameTime > 0 && Number.isFinite(frameTime) ? frameTime : 0,
  };
}

function along(instance) {
  const [rx, ry, rz, cx, cy, cz] = instance.orientation;
  const normal = [ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx];
  const p = instance.position;
  return normal[0] * p[0] + normal[1] * p[1] + normal[2] * p[2];
}

/** Instances in reading order: along the slice normal when every one has a geometry, else by number. */
export function sortInstances(instances) {
  const located = instances.every((i) => i.position && i.orientation && i.orientation.length === 6);
  const key = located ? along : (i) => i.instanceNumber;
  return [...instances].sort((a, b) => key(a) - key(b) || a.instanceNumber - b.instanceNumber);
}

/** The patient coordinate (LPS mm) of a pixel (column c, row r), or null without geometry. */
export function patientPoint(instance, c, r) {
  if (!instance.position || !instance.orientation || !instance.spacing) return null;
  const [rowSpacing, colSpacing] = instance.spacing;
  const o = instance.orientation;
  return [0, 1, 2].map((k) => instance.position[k] + o[k] * colSpacing * c + o[k + 3] * rowSpacing * r);
}

/** The distance in mm between two pixel positions, or null without Pixel Spacing. */
export function distanceMm(instance, a, b) {
  if (!instance.spacing) return null;
  const [rowSpacing, colSpacing] = instance.spacing;
  return Math.hypot((b.x - a.x) * colSpacing, (b.y - a.y) * rowSpacing);
}
