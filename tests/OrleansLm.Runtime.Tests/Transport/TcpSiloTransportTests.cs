using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using OrleansLm.Runtime.Transport;
using static OrleansLm.Runtime.Tests.Transport.Silos;

namespace OrleansLm.Runtime.Tests.Transport;

/// <summary>Calls between two transports on 127.0.0.1: payloads, concurrency, chunk interleaving, errors, timeouts, cancellation.</summary>
public sealed class TcpSiloTransportTests
{
    private static readonly DelegateHandler Reverse = new((_, request, _) => Task.FromResult(request.Reverse().ToArray()));

    [Fact]
    public async Task EchoesRequestsBothWaysAndNamesTheCaller()
    {
        var callers = new ConcurrentQueue<SiloAddress>();
        await using var server = await StartAsync(new DelegateHandler((caller, request, _) =>
        {
            callers.Enqueue(caller);
            return Task.FromResult(request.Reverse().ToArray());
        }));
        await using var client = await StartCallerAsync();

        foreach (var (length, seed) in new[] { (0, 1), (1, 2), (1000, 3), (3 * 64 * 1024 + 17, 4) })
        {
            var payload = RandomBytes(length, seed);
            var response = await client.SendAsync(server.LocalAddress, payload, Bound, CancellationToken.None);
            response.ToArray().Should().Equal(payload.AsEnumerable().Reverse());
        }

        callers.Should().AllBeEquivalentTo(client.LocalAddress);
    }

    [Fact]
    public async Task TrafficCountsEveryByteEachSideSentWithItsFraming()
    {
        await using var server = await StartAsync(new DelegateHandler((_, request, _) => Task.FromResult(request[..(request.Length / 2)])));
        await using var client = await StartCallerAsync();
        const int requestBytes = 3 * 64 * 1024 + 17;

        for (var call = 0; call < 4; call++)
            await client.SendAsync(server.LocalAddress, RandomBytes(requestBytes, call), Bound, CancellationToken.None);

        // Headers add a few bytes per frame and chunk, never the payload's size again.
        client.Traffic.BytesSent.Should().BeInRange(4L * requestBytes, 4L * requestBytes + 4 * 1024);
        server.Traffic.BytesSent.Should().BeInRange(4L * (requestBytes / 2), 4L * (requestBytes / 2) + 4 * 1024);
    }

    [Fact]
    public async Task ManyConcurrentCallsShareOneConnectionAndEachGetsItsOwnAnswer()
    {
        const int together = 16;
        var arrived = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var logger = new RecordingLogger<TcpSiloTransport>();
        await using var server = await StartAsync(new DelegateHandler(async (_, request, cancellation) =>
        {
            // The first calls wait until all of them are inside the handler at once: the requests are served concurrently.
            if (Interlocked.Increment(ref arrived) <= together)
            {
                if (Volatile.Read(ref arrived) == together) allArrived.TrySetResult();
                await allArrived.Task.WaitAsync(cancellation);
            }
            return SHA256.HashData(request);
        }), logger: logger);
        await using var client = await StartCallerAsync();

        var random = new Random(7);
        var payloads = Enumerable.Range(0, 300).Select(i => RandomBytes(random.Next(0, 300_000), i)).ToArray();
        var responses = await Task.WhenAll(payloads.Select(p => client.SendAsync(server.LocalAddress, p, Bound, CancellationToken.None)));

        for (var i = 0; i < payloads.Length; i++)
            responses[i].ToArray().Should().Equal(SHA256.HashData(payloads[i]), $"call {i} gets the answer to its own request");
        logger.Count("connected from").Should().Be(1);
    }

    [Fact]
    public async Task RemoteExceptionSurfacesWithItsTypeAndTheConnectionStaysUsable()
    {
        var logger = new RecordingLogger<TcpSiloTransport>();
        await using var server = await StartAsync(new DelegateHandler((_, request, _) =>
            request[0] == 0 ? throw new InvalidOperationException($"cannot handle {request.Length} bytes") : Task.FromResult(request)), logger: logger);
        await using var client = await StartCallerAsync();

        var failing = () => client.SendAsync(server.LocalAddress, new byte[5], Bound, CancellationToken.None);
        var error = (await failing.Should().ThrowAsync<RemoteHandlerException>()).Which;
        error.RemoteType.Should().Be(typeof(InvalidOperationException).FullName);
        error.Message.Should().Contain("cannot handle 5 bytes");

        var response = await client.SendAsync(server.LocalAddress, new byte[] { 9, 8 }, Bound, CancellationToken.None);
        response.ToArray().Should().Equal(9, 8);
        logger.Count("connected from").Should().Be(1, "the same connection served both calls");
    }

    [Fact]
    public async Task TimeoutNamesTargetAndTimeAndCancelsTheRemoteHandler()
    {
        var handler = new BlockingHandler();
        await using var server = await StartAsync(handler);
        await using var client = await StartCallerAsync();

        var clock = Stopwatch.StartNew();
        var call = () => client.SendAsync(server.LocalAddress, new byte[10], TimeSpan.FromMilliseconds(300), CancellationToken.None);
        var timeout = (await call.Should().ThrowAsync<TimeoutException>()).Which;

        clock.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290)).And.BeLessThan(Bound);
        timeout.Message.Should().Contain(server.LocalAddress.ToString()).And.Contain("0.3 s");
        await handler.AllCancelled.Task.WaitAsync(Bound);
    }

    [Fact]
    public async Task CancellationReachesTheRemoteHandler()
    {
        var handler = new BlockingHandler();
        await using var server = await StartAsync(handler);
        await using var client = await StartCallerAsync();
        using var cancellation = new CancellationTokenSource();

        var call = client.SendAsync(server.LocalAddress, new byte[10], Bound, cancellation.Token);
        await handler.AllStarted.Task.WaitAsync(Bound);
        await cancellation.CancelAsync();

        var cancelled = (await FluentActions.Awaiting(() => call).Should().ThrowAsync<OperationCanceledException>()).Which;
        cancelled.CancellationToken.Should().Be(cancellation.Token);
        await handler.AllCancelled.Task.WaitAsync(Bound);
    }

    [Fact]
    public async Task PingIsAnsweredByTheTransportNotTheHandler()
    {
        await using var server = await StartAsync(DelegateHandler.Unused);
        await using var client = await StartCallerAsync();

        await client.PingAsync(server.LocalAddress, Bound, CancellationToken.None);
        await client.PingAsync(server.LocalAddress, Bound, CancellationToken.None);
    }

    [Fact]
    public async Task SendWithoutTimeoutUsesTheDefault()
    {
        await using var server = await StartAsync(Reverse);
        await using var client = await StartCallerAsync();

        var response = await client.SendAsync(server.LocalAddress, new byte[] { 1, 2, 3 }, CancellationToken.None);
        response.ToArray().Should().Equal(3, 2, 1);
    }

    [Fact]
    public async Task LargePayloadsArriveIntactInBothDirections()
    {
        // Answers with the hash of what arrived, then a large payload of its own.
        await using var server = await StartAsync(new DelegateHandler((_, request, _) =>
            Task.FromResult<byte[]>([.. SHA256.HashData(request), .. RandomBytes(request.Length, request[0])])));
        await using var client = await StartCallerAsync();
        var request = RandomBytes(20 * 1024 * 1024 + 3, 5);

        var response = await client.SendAsync(server.LocalAddress, request, TimeSpan.FromMinutes(1), CancellationToken.None);

        response[..32].ToArray().Should().Equal(SHA256.HashData(request));
        response[32..].ToArray().Should().Equal(RandomBytes(request.Length, request[0]));
    }
}
