// `npm run dev` serves the UI with hot reload and proxies /graphql (HTTP and WebSocket) to a
// running gateway: SCIA_GATEWAY_URL, default the local stack's http://127.0.0.1:50056.
import { defineConfig } from "vitest/config";

const gateway = process.env.SCIA_GATEWAY_URL ?? "http://127.0.0.1:50056";

export default defineConfig({
  server: {
    proxy: { "/graphql": { target: gateway, ws: true, changeOrigin: true } },
  },
  build: { target: "es2022", sourcemap: false, reportCompressedSize: true },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    // userEvent types key by key; on a busy CI machine a form test can take several seconds.
    testTimeout: 30_000,
  },
});
