using System.Net;
using OrleansLm.Runtime.Transport;

namespace OrleansLm.Runtime.Tests.Transport;

public sealed class TransportOptionsTests
{
    [Fact]
    public void MissingSecretIsRefusedByName() =>
        FluentActions.Invoking(() => new TcpSiloTransport(new TransportOptions()))
            .Should().Throw<ArgumentException>().WithMessage("*ClusterSecret*");

    [Fact]
    public void WildcardListenAddressNeedsAnAdvertisedHost() =>
        FluentActions.Invoking(() => new TransportOptions { ClusterSecret = "s", ListenEndPoint = new IPEndPoint(IPAddress.Any, 0) }.Validate())
            .Should().Throw<ArgumentException>().WithMessage("*AdvertisedHost*");

    [Theory]
    [InlineData(0, 5, 65536, "DefaultCallTimeout")]
    [InlineData(30, -2, 65536, "ConnectTimeout")]
    [InlineData(30, 5, 100, "MaxChunkSize")]
    public void UnusableValuesAreRefusedByName(int callSeconds, int connectSeconds, int chunk, string option) =>
        FluentActions.Invoking(() => new TransportOptions
            {
                ClusterSecret = "s",
                DefaultCallTimeout = TimeSpan.FromSeconds(callSeconds),
                ConnectTimeout = TimeSpan.FromSeconds(connectSeconds),
                MaxChunkSize = chunk,
            }.Validate())
            .Should().Throw<ArgumentException>().WithMessage($"*{option}*");

    [Fact]
    public async Task AnUnstartedTransportCannotCall()
    {
        await using var transport = new TcpSiloTransport(new TransportOptions { ClusterSecret = "s" });
        await FluentActions.Awaiting(() => transport.SendAsync(new SiloAddress("127.0.0.1", 1, 1), new byte[1], CancellationToken.None))
            .Should().ThrowAsync<InvalidOperationException>().WithMessage("*not been started*");
    }
}
