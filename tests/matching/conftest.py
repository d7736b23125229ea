"""The hand-built Cantal case of the matching tests: communes from the shipped reference, known distances from
Aurillac (15014): Naucelles 15140 about 3 km, Prunet 15156 about 11.4 km, Salers 15219 about 24.5 km, Mauriac
15120 about 33.9 km (beyond the precomputed 30)."""

from __future__ import annotations

AURILLAC = "15014"
NAUCELLES = "15140"
PRUNET = "15156"
SALERS = "15219"
MAURIAC = "15120"
