using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;

namespace OrleansLm.Runtime.Tests;

/// <summary>The gRPC wire code that the gateway and the client share (protos/Grpc), against hand-made bytes.</summary>
public sealed class GrpcProtocolTests
{
    public static TheoryData<string, TimeSpan> Timeouts => new()
    {
        { "1H", TimeSpan.FromHours(1) },
        { "30M", TimeSpan.FromMinutes(30) },
        { "5S", TimeSpan.FromSeconds(5) },
        { "250m", TimeSpan.FromMilliseconds(250) },
        { "7u", TimeSpan.FromTicks(70) },
        { "1500n", TimeSpan.FromTicks(15) },
        { "0S", TimeSpan.Zero },
        { "99999999S", TimeSpan.FromSeconds(99_999_999) },
    };

    [Theory]
    [MemberData(nameof(Timeouts))]
    public void ParseTimeoutReadsEachUnit(string text, TimeSpan expected) => GrpcProtocol.ParseTimeout(text).Should().Be(expected);

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("123456789S")]
    [InlineData("-5S")]
    [InlineData("+5S")]
    [InlineData("5s")]
    [InlineData("5 S")]
    [InlineData("1.5S")]
    public void ParseTimeoutRefusesWhatIsNotOne(string? text) => GrpcProtocol.ParseTimeout(text).Should().BeNull();

    [Fact]
    public void FormatTimeoutRoundsUpInTheFinestUnitThatFitsEightDigits()
    {
        var units = new Dictionary<char, long>
        {
            ['u'] = 10, ['m'] = TimeSpan.TicksPerMillisecond, ['S'] = TimeSpan.TicksPerSecond, ['M'] = TimeSpan.TicksPerMinute, ['H'] = TimeSpan.TicksPerHour,
        };
        var finerUnit = new Dictionary<char, char> { ['m'] = 'u', ['S'] = 'm', ['M'] = 'S', ['H'] = 'M' };
        var random = new Random(17);
        // Durations of every magnitude, from ticks to centuries.
        var durations = Enumerable.Range(0, 2000).Select(_ => TimeSpan.FromTicks((long)Math.Pow(10, random.NextDouble() * 16.5)))
            .Concat([TimeSpan.Zero, TimeSpan.FromTicks(1), TimeSpan.FromMilliseconds(300), TimeSpan.FromTicks(999_999_990)]);
        foreach (var duration in durations)
        {
            var text = GrpcProtocol.FormatTimeout(duration);
            var parsed = GrpcProtocol.ParseTimeout(text);
            parsed.Should().NotBeNull(text);
            var unit = units[text[^1]];
            parsed!.Value.Should().BeGreaterThanOrEqualTo(duration, text).And.BeLessThan(duration + TimeSpan.FromTicks(unit), text);
            if (finerUnit.TryGetValue(text[^1], out var finer))
                ((duration.Ticks + units[finer] - 1) / units[finer]).Should().BeGreaterThan(99_999_999, $"{duration} would fit in {finer}, not only {text}");
        }
        GrpcProtocol.FormatTimeout(TimeSpan.FromMilliseconds(300)).Should().Be("300000u");
    }

    [Fact]
    public void FormatTimeoutClampsWhatNoUnitHolds()
    {
        GrpcProtocol.ParseTimeout(GrpcProtocol.FormatTimeout(TimeSpan.MaxValue)).Should().Be(TimeSpan.FromHours(99_999_999));
        GrpcProtocol.ParseTimeout(GrpcProtocol.FormatTimeout(TimeSpan.FromSeconds(-3))).Should().Be(TimeSpan.Zero);
    }

    [Theory]
    [InlineData("ok", "ok")]
    [InlineData("100%", "100%25")]
    [InlineData("Übersicht", "%C3%9Cbersicht")]
    [InlineData("a\nb\tc", "a%0Ab%09c")]
    [InlineData("€ 5", "%E2%82%AC 5")]
    [InlineData("🙂", "%F0%9F%99%82")]
    [InlineData("~ } {", "~ } {")]
    public void MessageEncodingPercentEncodesUtf8OutsidePrintableAscii(string message, string encoded)
    {
        GrpcProtocol.EncodeMessage(message).Should().Be(encoded);
        GrpcProtocol.DecodeMessage(encoded).Should().Be(message);
    }

    [Theory]
    [InlineData("%", "%")]
    [InlineData("50%", "50%")]
    [InlineData("%4", "%4")]
    [InlineData("%G1x", "%G1x")]
    [InlineData("%41%42", "AB")]
    [InlineData("%c3%9c", "Ü")]
    public void MessageDecodingKeepsMalformedEscapes(string encoded, string decoded) => GrpcProtocol.DecodeMessage(encoded).Should().Be(decoded);

    [Fact]
    public async Task FramesReadBackInOrderThenTheEndOfTheStream()
    {
        var first = new Run { RunId = "a", Step = 3 };
        var second = new Run { RunId = "b", Error = new string('z', 500) };
        using var stream = new MemoryStream();
        await MessageFraming.WriteMessageAsync(stream, first, compress: false, CancellationToken.None);
        await MessageFraming.WriteMessageAsync(stream, second, compress: true, CancellationToken.None);
        var bytes = stream.ToArray();
        // The first frame as the protocol lays it out: flag 0, big-endian length, the payload.
        bytes[0].Should().Be(0);
        BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(1)).Should().Be((uint)first.CalculateSize());
        bytes.AsSpan(5, first.CalculateSize()).ToArray().Should().Equal(first.ToByteArray());
        bytes[5 + first.CalculateSize()].Should().Be(1);

        stream.Position = 0;
        Run.Parser.ParseFrom(await Read(stream, encoding: "gzip")).Should().Be(first);
        Run.Parser.ParseFrom(await Read(stream, encoding: "gzip")).Should().Be(second);
        (await Read(stream, encoding: "gzip")).Should().BeNull();
    }

    [Fact]
    public async Task FrameCutShortIsInternal()
    {
        (await Failure([0, 0, 0])).Should().Match<RpcException>(e => e.Status == StatusCode.Internal && e.Detail.Contains("truncated"));
        (await Failure([0, 0, 0, 0, 10, 1, 2, 3])).Should().Match<RpcException>(e => e.Status == StatusCode.Internal && e.Detail.Contains("announced 10 bytes"));
    }

    [Fact]
    public async Task FrameWithAFlagOtherThanZeroOrOneIsInternal() =>
        (await Failure([2, 0, 0, 0, 0])).Should().Match<RpcException>(e => e.Status == StatusCode.Internal && e.Detail.Contains("flag 2"));

    [Fact]
    public async Task FrameOverTheLimitIsResourceExhaustedBeforeItsPayloadIsRead()
    {
        var header = new byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), 5000);
        (await Failure(header, maxMessageBytes: 1000)).Status.Should().Be(StatusCode.ResourceExhausted);
    }

    [Fact]
    public async Task CompressedFrameIsCheckedAgainstItsEncodingAndTheLimitOnceDecompressed()
    {
        var bomb = Frame(flag: 1, Gzip(new byte[100_000]));
        bomb.Length.Should().BeLessThan(1000);
        (await Failure(bomb, maxMessageBytes: 1000, encoding: "gzip")).Status.Should().Be(StatusCode.ResourceExhausted);
        (await Failure(bomb, maxMessageBytes: 1000_000, encoding: null)).Should()
            .Match<RpcException>(e => e.Status == StatusCode.Internal && e.Detail.Contains("identity"));
        (await Failure(Frame(flag: 1, [1, 2, 3, 4]), maxMessageBytes: 1000, encoding: "gzip")).Status.Should().Be(StatusCode.Internal);
    }

    [Fact]
    public void ValidationNamesTheFieldThatIsNotUtf8()
    {
        Invalid(new GenerateRequest { Model = "m", Stop = { "ok", "@@" } }).Should().Be("stop[1]: not valid UTF-8");
        Invalid(new ListRunsResponse { Runs = { new Run { RunId = "@@" } } }).Should().Be("runs[0].run_id: not valid UTF-8");
        var score = new ScoreResponse { Model = "m" };
        score.Tokens.Add(Enumerable.Range(0, 3).Select(i => new GeneratedToken { Text = "t" + i }));
        score.Tokens[2].TopLogprobs.Add(new TokenLogProb { Text = "@@" });
        Invalid(score).Should().Be("tokens[2].top_logprobs[0].text: not valid UTF-8");
    }

    [Fact]
    public void ValidationParsesAValidMessageAndRefusesBytesThatAreNone()
    {
        var request = new GenerateRequest { Model = "run:démo", Prompt = "Übersicht 🙂", Stop = { "." }, Seed = 4 };
        MessageValidation.Parse(GenerateRequest.Parser, GenerateRequest.Descriptor, request.ToByteArray()).Should().Be(request);

        var garbage = () => MessageValidation.Parse(GenerateRequest.Parser, GenerateRequest.Descriptor, [0x0A, 0x05, 0x41]);
        garbage.Should().Throw<RpcException>().Where(e => e.Status == StatusCode.InvalidArgument && e.Detail.Contains("olm.v1.GenerateRequest"));
    }

    /// <summary>The field MessageValidation names in <paramref name="message"/> after its "@@" is made invalid UTF-8 (C3 28).</summary>
    private static string Invalid<T>(T message) where T : IMessage<T>, new()
    {
        var bytes = message.ToByteArray();
        var at = bytes.AsSpan().IndexOf("@@"u8);
        at.Should().BeGreaterThanOrEqualTo(0);
        bytes[at] = 0xC3;
        bytes[at + 1] = 0x28;
        var error = Assert.Throws<RpcException>(() => MessageValidation.Parse(new MessageParser<T>(() => new T()), message.Descriptor, bytes));
        error.Status.Should().Be(StatusCode.InvalidArgument);
        return error.Detail;
    }

    private static async Task<byte[]?> Read(Stream stream, string? encoding, int maxMessageBytes = MessageFraming.DefaultMaxMessageBytes) =>
        await MessageFraming.ReadMessageAsync(stream, maxMessageBytes, encoding, CancellationToken.None);

    private static async Task<RpcException> Failure(byte[] bytes, int maxMessageBytes = MessageFraming.DefaultMaxMessageBytes, string? encoding = null)
    {
        var read = () => Read(new MemoryStream(bytes), encoding, maxMessageBytes);
        return (await read.Should().ThrowAsync<RpcException>()).Which;
    }

    private static byte[] Frame(byte flag, byte[] payload)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal)) gzip.Write(data);
        return output.ToArray();
    }
}
