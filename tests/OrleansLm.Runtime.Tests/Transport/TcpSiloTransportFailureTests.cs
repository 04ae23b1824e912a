using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using OrleansLm.Runtime.Transport;
using static OrleansLm.Runtime.Tests.Transport.Silos;

namespace OrleansLm.Runtime.Tests.Transport;

/// <summary>What callers see when the other silo is not who they think, not there any more, or not to be trusted.</summary>
public sealed class TcpSiloTransportFailureTests
{
    private static readonly DelegateHandler Echo = new((_, request, _) => Task.FromResult(request));

    /// <summary>Failing "fast" means well before the default 30 s call timeout; this leaves room for a loaded machine.</summary>
    private static readonly TimeSpan Fast = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task WrongSecretIsRefusedAndLoggedWhileTheSiloKeepsServingItsCluster()
    {
        var logger = new RecordingLogger<TcpSiloTransport>();
        await using var server = await StartAsync(Echo, logger: logger);
        await using var intruder = await StartCallerAsync("a guessed secret");
        await using var member = await StartCallerAsync();

        var intrusion = () => intruder.SendAsync(server.LocalAddress, new byte[] { 1 }, Bound, CancellationToken.None);
        var refused = (await intrusion.Should().ThrowAsync<SiloUnavailableException>()).Which;
        refused.Message.Should().Contain("cluster secret was refused");
        refused.Silo.Should().Be(server.LocalAddress);
        await intrusion.Should().ThrowAsync<SiloUnavailableException>().WithMessage("*cluster secret was refused*");

        var response = await member.SendAsync(server.LocalAddress, new byte[] { 4, 2 }, Bound, CancellationToken.None);
        response.ToArray().Should().Equal(4, 2);
        logger.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("refused a connection"))
            .Should().HaveCount(2).And.OnlyContain(e => e.Message.Contains(intruder.LocalAddress.ToString()));
    }

    [Fact]
    public async Task GarbageOnTheSiloPortIsDroppedAndTheSiloKeepsServing()
    {
        var logger = new RecordingLogger<TcpSiloTransport>();
        await using var server = await StartAsync(Echo, logger: logger);
        await using var member = await StartCallerAsync();
        using var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        await stranger.ConnectAsync(server.LocalAddress.EndPoint);
        await stranger.SendAsync(RandomBytes(200, 3));

        (await ClosedByPeerAsync(stranger)).Should().BeTrue("the silo closes a connection that does not start with a hello");
        logger.Count("during its handshake: the peer does not speak the silo transport protocol").Should().Be(1);
        var response = await member.SendAsync(server.LocalAddress, new byte[] { 7 }, Bound, CancellationToken.None);
        response.ToArray().Should().Equal(7);
    }

    [Fact]
    public async Task CallToAnOlderIncarnationIsRefusedAsStale()
    {
        var handler = new BlockingHandler();
        await using var server = await StartAsync(handler);
        await using var client = await StartCallerAsync();
        var previous = server.LocalAddress with { Generation = server.LocalAddress.Generation - 1 };

        var call = () => client.SendAsync(previous, new byte[] { 1 }, Bound, CancellationToken.None);
        var stale = (await call.Should().ThrowAsync<SiloUnavailableException>()).Which;

        stale.Silo.Should().Be(previous);
        stale.Message.Should().Contain("stale incarnation").And.Contain(server.LocalAddress.ToString());
        handler.Started.Should().Be(0);
    }

    [Fact]
    public async Task CallToAClosedPortFailsFast()
    {
        await using var client = await StartCallerAsync();
        var nobody = new SiloAddress("127.0.0.1", ClosedPort(), 1);

        var clock = Stopwatch.StartNew();
        var call = () => client.SendAsync(nobody, new byte[] { 1 }, CancellationToken.None);
        await call.Should().ThrowAsync<SiloUnavailableException>().WithMessage("*refused the connection*");
        await FluentActions.Awaiting(() => client.PingAsync(nobody, Bound, CancellationToken.None)).Should().ThrowAsync<SiloUnavailableException>();

        clock.Elapsed.Should().BeLessThan(Fast);
    }

    [Fact]
    public async Task StoppedSiloFailsPendingCallsQuicklyAndLaterCallsFast()
    {
        var handler = new BlockingHandler(expected: 3);
        var server = await StartAsync(handler);
        await using var client = await StartCallerAsync();
        var address = server.LocalAddress;
        var calls = Enumerable.Range(0, 3).Select(i => client.SendAsync(address, new byte[] { (byte)i }, CancellationToken.None)).ToArray();
        await handler.AllStarted.Task.WaitAsync(Bound);

        var clock = Stopwatch.StartNew();
        await server.DisposeAsync();
        foreach (var call in calls)
            await FluentActions.Awaiting(() => call).Should().ThrowAsync<SiloUnavailableException>();
        var later = () => client.SendAsync(address, new byte[] { 1 }, CancellationToken.None);
        await later.Should().ThrowAsync<SiloUnavailableException>().WithMessage("*refused the connection*");

        clock.Elapsed.Should().BeLessThan(Fast);
        handler.AllCancelled.Task.IsCompletedSuccessfully.Should().BeTrue("disposing the silo cancelled its handlers");
    }

    [Fact]
    public async Task DroppedConnectionFailsItsPendingCallsAndTheNextCallReconnects()
    {
        var handler = new BlockingHandler(expected: 2);
        await using var server = await StartAsync(new DelegateHandler(async (caller, request, cancellation) =>
            request.Length == 0 ? (await handler.HandleAsync(caller, request, cancellation)).ToArray() : request));
        await using var proxy = new TcpProxy(server.LocalAddress.EndPoint);
        await using var client = await StartCallerAsync();
        // The proxy's port, the silo's incarnation: the handshake accepts it as the same silo.
        var viaProxy = server.LocalAddress with { Port = proxy.Port };
        var calls = Enumerable.Range(0, 2).Select(_ => client.SendAsync(viaProxy, Array.Empty<byte>(), CancellationToken.None)).ToArray();
        await handler.AllStarted.Task.WaitAsync(Bound);

        var clock = Stopwatch.StartNew();
        proxy.Cut();
        foreach (var call in calls)
            await FluentActions.Awaiting(() => call).Should().ThrowAsync<SiloUnavailableException>();
        clock.Elapsed.Should().BeLessThan(Fast);
        await handler.AllCancelled.Task.WaitAsync(Bound);

        var response = await client.SendAsync(viaProxy, new byte[] { 5, 6 }, Bound, CancellationToken.None);
        response.ToArray().Should().Equal(5, 6);
        proxy.Accepted.Should().Be(2, "the next call dialled a new connection");
    }

    [Fact]
    public async Task MarkDeadFailsPendingCallsAtOnceAndLaterCallsWithoutDialling()
    {
        var handler = new BlockingHandler(expected: 3);
        var logger = new RecordingLogger<TcpSiloTransport>();
        await using var server = await StartAsync(handler, logger: logger);
        await using var client = await StartCallerAsync();
        var calls = Enumerable.Range(0, 3).Select(i => client.SendAsync(server.LocalAddress, new byte[] { (byte)i }, CancellationToken.None)).ToArray();
        await handler.AllStarted.Task.WaitAsync(Bound);

        var clock = Stopwatch.StartNew();
        client.MarkDead(server.LocalAddress);
        foreach (var call in calls)
            await FluentActions.Awaiting(() => call).Should().ThrowAsync<SiloUnavailableException>().WithMessage("*declared dead*");
        clock.Elapsed.Should().BeLessThan(Fast);

        await FluentActions.Awaiting(() => client.SendAsync(server.LocalAddress, new byte[] { 1 }, CancellationToken.None))
            .Should().ThrowAsync<SiloUnavailableException>().WithMessage("*declared dead*");
        await FluentActions.Awaiting(() => client.PingAsync(server.LocalAddress, Bound, CancellationToken.None))
            .Should().ThrowAsync<SiloUnavailableException>().WithMessage("*declared dead*");
        logger.Count("connected from").Should().Be(1, "calls to a dead silo do not dial it");
        await handler.AllCancelled.Task.WaitAsync(Bound);
    }

    [Fact]
    public async Task DisposingTheCallerFailsItsPendingCallsAndRefusesNewOnes()
    {
        var handler = new BlockingHandler();
        await using var server = await StartAsync(handler);
        var client = await StartCallerAsync();
        var call = client.SendAsync(server.LocalAddress, new byte[] { 1 }, CancellationToken.None);
        await handler.AllStarted.Task.WaitAsync(Bound);

        await client.DisposeAsync().AsTask().WaitAsync(Bound);

        await FluentActions.Awaiting(() => call).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => client.SendAsync(server.LocalAddress, new byte[] { 1 }, CancellationToken.None))
            .Should().ThrowAsync<ObjectDisposedException>();
        await handler.AllCancelled.Task.WaitAsync(Bound);
    }

    /// <summary>Whether the peer closed (FIN, or RST when it left our bytes unread) rather than sending anything.</summary>
    private static async Task<bool> ClosedByPeerAsync(Socket socket)
    {
        try
        {
            return await socket.ReceiveAsync(new byte[1024].AsMemory()).AsTask().WaitAsync(Bound) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }
}
