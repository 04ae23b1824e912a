using OrleansLm.Runtime;
using OrleansLm.Runtime.Transport;

namespace OrleansLm.Bench;

/// <summary>Answers every transport request with the same bytes.</summary>
internal sealed class FixedAnswer(ReadOnlyMemory<byte> response) : IRequestHandler
{
    public ValueTask<ReadOnlyMemory<byte>> HandleAsync(SiloAddress caller, ReadOnlyMemory<byte> request, CancellationToken cancellation) =>
        ValueTask.FromResult(response);
}
