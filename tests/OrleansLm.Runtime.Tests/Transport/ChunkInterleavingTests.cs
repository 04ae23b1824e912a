using System.Security.Cryptography;
using OrleansLm.Runtime.Transport;
using static OrleansLm.Runtime.Tests.Transport.Silos;

namespace OrleansLm.Runtime.Tests.Transport;

/// <summary>Runs alone: it counts small calls that finish during a large transfer, which other tests' load would slow.</summary>
[Collection(SoloCollection.Name)]
public sealed class ChunkInterleavingTests
{
    [Fact]
    public async Task SmallCallsOvertakeA128MegabyteCallOnTheSameConnection()
    {
        var smallCallsDone = 0;
        var smallCallsDoneWhenBigArrived = -1;
        var logger = new RecordingLogger<TcpSiloTransport>();
        // Small kernel buffers: what they hold is ahead of any new frame, and left to grow to megabytes they would
        // slow each small call enough to blur what this test is about, the interleaving of chunks.
        var options = new TransportOptions { ClusterSecret = Secret, SocketBufferSize = 64 * 1024 };
        await using var server = await StartAsync(new DelegateHandler((_, request, _) =>
        {
            if (request.Length > 1000) smallCallsDoneWhenBigArrived = Volatile.Read(ref smallCallsDone);
            return Task.FromResult(SHA256.HashData(request));
        }), options, logger);
        await using var client = await StartAsync(DelegateHandler.Unused, options);
        await client.PingAsync(server.LocalAddress, Bound, CancellationToken.None);
        var big = RandomBytes(128 * 1024 * 1024, 11);
        var small = RandomBytes(100, 12);

        // Small calls one after another while the big one is in flight. Had they to wait behind its 128 MB, not even
        // the first could finish before the server had the whole big request (without interleaving this counts 0;
        // with it, dozens).
        var bigCall = client.SendAsync(server.LocalAddress, big, TimeSpan.FromMinutes(2), CancellationToken.None);
        while (!bigCall.IsCompleted)
        {
            var response = await client.SendAsync(server.LocalAddress, small, Bound, CancellationToken.None);
            response.ToArray().Should().Equal(SHA256.HashData(small));
            Interlocked.Increment(ref smallCallsDone);
        }

        (await bigCall).ToArray().Should().Equal(SHA256.HashData(big));
        smallCallsDoneWhenBigArrived.Should().BeGreaterThanOrEqualTo(2);
        logger.Count("connected from").Should().Be(1);
    }
}
