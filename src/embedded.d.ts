// Files imported `with { type: "file" }` are paths: real ones when running from source, embedded
// ones in the compiled binary. TypeScript does not know import attributes, so say it here.
declare module "*.css" {
  const path: string;
  export default path;
}
declare module "*.svg" {
  const path: string;
  export default path;
}
declare module "*.min.js" {
  const path: string;
  export default path;
}
declare module "*/public/app.js" {
  const path: string;
  export default path;
}
