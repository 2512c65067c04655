/**
 * A provider's id that wraps only between its tokens (after "_", "-", "/", "."), never inside
 * one: `batch_67ab…` stays readable in a narrow column, and copying it copies the id unchanged.
 */
export function BatchId({ id }: { id: string }) {
  const tokens = id.match(/[^_\-/.]+[_\-/.]*|[_\-/.]+/g) ?? [id];
  return (
    <>
      {tokens.map((token, index) => (
        <span key={index} className="id-token">
          {index > 0 ? <wbr /> : null}
          {token}
        </span>
      ))}
    </>
  );
}
