/** What the virtual printer reports for M503 before any change: Marlin 2's defaults, with classic jerk (no J). */
import { defaultLimits, type MachineLimitsPatch } from "../../src/analysis/limits.ts";

export function virtualPrinterReport(): MachineLimitsPatch {
  const { junctionDeviation: _, maxPrintAcceleration: _p, maxRetractAcceleration: _r, maxTravelAcceleration: _t, ...reported } = defaultLimits();
  return reported;
}
