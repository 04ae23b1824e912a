using OrleansLm.Runtime;

namespace OrleansLm.Runtime.Tests;

public sealed class SiloAddressTests
{
    [Fact]
    public void ParsesWhatItPrints()
    {
        var address = new SiloAddress("127.0.0.1", 11111, 638_000_000_000_000_000);
        SiloAddress.Parse(address.ToString()).Should().Be(address);
    }

    [Theory]
    [InlineData("127.0.0.1:11111")]
    [InlineData("127.0.0.1@5")]
    [InlineData(":1@5")]
    [InlineData("127.0.0.1:port@5")]
    public void RejectsMalformedText(string text) =>
        FluentActions.Invoking(() => SiloAddress.Parse(text)).Should().Throw<FormatException>().WithMessage($"'{text}'*");
}
