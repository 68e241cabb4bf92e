/**
 * The `webcam` permission (watch cameras and timelapses): the groups that could watch printers
 * before it existed (users, read-only) keep seeing their cameras. Admins have every permission.
 */
export const m012_webcam_permission = `
UPDATE groups SET permissions = json_insert(permissions, '$[#]', 'webcam')
WHERE key IN ('users', 'readonly') AND json_valid(permissions) AND permissions NOT LIKE '%"webcam"%';
`;
