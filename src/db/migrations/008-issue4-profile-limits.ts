/**
 * Issue #4: machine limits belong to each printer's profile (`printer.profile.<id>`, filled in
 * from the firmware's report) instead of one host-wide analysis setting. The old setting's
 * limits become the limits of every printer whose profile has none, and leave the setting.
 * Values that are not valid JSON are left alone (the readers fall back to their defaults).
 */
export const m008_profile_limits = `
UPDATE settings
SET value = json_set(value, '$.limits', json((SELECT json_extract(a.value, '$.limits') FROM settings a WHERE a.key = 'analysis.settings' AND json_valid(a.value))))
WHERE key IN (SELECT 'printer.profile.' || id FROM printers)
  AND json_valid(value)
  AND json_type(value, '$.limits') IS NULL
  AND EXISTS (SELECT 1 FROM settings a WHERE a.key = 'analysis.settings' AND json_valid(a.value) AND json_type(a.value, '$.limits') = 'object');

INSERT INTO settings (key, value)
SELECT 'printer.profile.' || p.id, json_object('limits', json(json_extract(a.value, '$.limits')))
FROM printers p, settings a
WHERE a.key = 'analysis.settings' AND json_valid(a.value) AND json_type(a.value, '$.limits') = 'object'
  AND NOT EXISTS (SELECT 1 FROM settings x WHERE x.key = 'printer.profile.' || p.id);

UPDATE settings SET value = json_remove(value, '$.limits') WHERE key = 'analysis.settings' AND json_valid(value);
`;
