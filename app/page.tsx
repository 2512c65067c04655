import Link from "next/link";

/** The public landing page: what batchwatch is and how to start. It shows no data. */
export default function HomePage() {
  return (
    <main>
      <h1>batchwatch</h1>
      <p className="lead">
        One signed webhook when any LLM batch job finishes, on any provider: OpenAI, Azure OpenAI, Anthropic,
        Google Gemini, Mistral, Groq, Together and xAI.
      </p>
      <h2>How it works</h2>
      <ol className="steps">
        <li>
          You submit a batch to your provider as usual, then tell batchwatch about it:{" "}
          <code>POST /api/batches</code> with the provider, the batch id and where to notify, or{" "}
          <code>inngest.send(&quot;batch/tracked&quot;, …)</code> from your own app.
        </li>
        <li>
          A durable Inngest function watches the batch, polling only as often as its progress warrants. Native provider
          webhooks (OpenAI, Gemini) end the wait within seconds.
        </li>
        <li>
          When the batch ends, every subscriber receives exactly one{" "}
          <a href="https://www.standardwebhooks.com/">Standard Webhooks</a>-signed event, retried until it lands, with
          every attempt logged and replayable.
        </li>
      </ol>
      <h2>Start</h2>
      <pre>{`curl -X POST http://localhost:3000/api/batches \\
  -H "Authorization: Bearer $BATCHWATCH_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"provider":"openai","batchId":"batch_abc123","webhookUrl":"https://example.com/hooks/batch"}'`}</pre>
      <p>
        <Link href="/batches">Open the dashboard</Link> · <Link href="/api/health">Health</Link>
      </p>
    </main>
  );
}
