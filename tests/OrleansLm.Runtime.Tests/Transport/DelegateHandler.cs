using System.Runtime.InteropServices;
using OrleansLm.Runtime.Transport;

namespace OrleansLm.Runtime.Tests.Transport;

internal sealed class DelegateHandler(Func<SiloAddress, byte[], CancellationToken, Task<byte[]>> handle) : IRequestHandler
{
    /// <summary>For silos that only call: being called is a test failure.</summary>
    public static readonly DelegateHandler Unused = new((caller, _, _) => throw new InvalidOperationException($"unexpected request from {caller}"));

    public async ValueTask<ReadOnlyMemory<byte>> HandleAsync(SiloAddress caller, ReadOnlyMemory<byte> request, CancellationToken cancellation) =>
        await handle(caller, WholeArray(request), cancellation);

    /// <summary>The transport hands over whole arrays; taking them as they are keeps 128 MB requests from being copied.</summary>
    private static byte[] WholeArray(ReadOnlyMemory<byte> request) =>
        MemoryMarshal.TryGetArray(request, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : request.ToArray();
}
