using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Runtime.Invocation;
using OrleansLm.Runtime.Placement;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Grains;

public sealed class GrainCallCodecTests(ITestOutputHelper output)
{
    private static readonly GrainInterface Codec = GrainInterface.Of(typeof(ICodecGrain));
    private static readonly GrainMethod Echo = Codec.GetMethod(typeof(ICodecGrain).GetMethod(nameof(ICodecGrain.Echo))!);
    private static readonly GrainMethod Scale = Codec.GetMethod(typeof(ICodecGrain).GetMethod(nameof(ICodecGrain.Scale))!);
    private static readonly GrainMethod Describe = Codec.GetMethod(typeof(ICodecGrain).GetMethod(nameof(ICodecGrain.Describe))!);
    private static readonly GrainId Target = GrainId.Create(typeof(ICodecGrain), "c");

    private readonly SiloRuntime runtime = new ServiceCollection().AddGrainRuntime().AddGrainsFromAssembly(typeof(TestSilo).Assembly)
        .Services.BuildServiceProvider().GetRequiredService<SiloRuntime>();

    public static TheoryData<object?> Values() =>
    [
        null, true, false, (byte)200, (sbyte)-5, (short)-300, (ushort)65000, -7, 4_000_000_000u, long.MinValue, ulong.MaxValue,
        1.5f, float.NaN, -0.0, double.Epsilon, 79_228_162_514_264_337_593_543_950_335m, -0.001m, 'λ', "", "naïve ✓ 文字",
        new Guid("0f8fad5b-d9cb-469f-a165-70867728950e"), new DateTime(2024, 2, 29, 13, 14, 15, DateTimeKind.Utc).AddTicks(7),
        new DateTimeOffset(2024, 2, 29, 13, 14, 15, TimeSpan.FromMinutes(-150)), TimeSpan.FromTicks(-123456789),
        new byte[] { 0, 1, 255 }, new[] { int.MinValue, 0, int.MaxValue }, new[] { long.MinValue, 1L }, new[] { 1.5f, float.NegativeInfinity },
        new[] { Math.PI, double.NaN }, Array.Empty<float>(), new Sample("run", [2, 3], 1.25), new Sample("diverged", [], double.NaN), Phase.Train, new List<string> { "a", "b" },
    ];

    [Theory]
    [MemberData(nameof(Values))]
    public void ArgumentsAndResultsRoundTrip(object? value)
    {
        var call = runtime.Codec.DecodeRequest(runtime.Codec.EncodeRequest(new GrainCall(Target, Echo, [value], default, TimeSpan.FromSeconds(3))).Span, default);
        var result = runtime.Codec.DecodeResponse(Echo, runtime.Codec.EncodeResult(Echo, value).Span);

        foreach (var decoded in new[] { call.Arguments[0], result })
        {
            decoded?.GetType().Should().Be(value?.GetType());
            decoded.Should().BeEquivalentTo(value, o => o.RespectingRuntimeTypes().WithStrictOrdering());
        }
        call.TargetId.Should().Be(Target);
        call.Method.Should().BeSameAs(Echo);
        call.Timeout.Should().Be(TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void FloatingPointBitsSurviveExactly()
    {
        var bits = new[] { BitConverter.Int32BitsToSingle(0x7fc00001), -0.0f, float.Epsilon };

        var decoded = (float[])runtime.Codec.DecodeResponse(Echo, runtime.Codec.EncodeResult(Echo, bits).Span)!;

        decoded.Select(BitConverter.SingleToInt32Bits).Should().Equal(bits.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void SixtyFourMegabyteFloatArrayRoundTripsAsOneRawBlock()
    {
        var values = new float[16 * 1024 * 1024];
        var random = new Random(4);
        for (var i = 0; i < values.Length; i++) values[i] = (float)random.NextDouble() - 0.5f;
        using var cancellation = new CancellationTokenSource();

        var watch = Stopwatch.StartNew();
        var request = runtime.Codec.EncodeRequest(new GrainCall(Target, Scale, [values, 2f, CancellationToken.None], default, TimeSpan.FromSeconds(30)));
        var call = runtime.Codec.DecodeRequest(request.Span, cancellation.Token);
        var response = runtime.Codec.EncodeResult(Scale, call.Arguments[0]);
        var result = (float[])runtime.Codec.DecodeResponse(Scale, response.Span)!;
        watch.Stop();
        output.WriteLine($"64 MB float[]: request {request.Length} B, encode+decode twice in {watch.ElapsedMilliseconds} ms");

        request.Length.Should().BeLessThan(values.Length * sizeof(float) + 512, "the array travels as raw bytes plus a small header");
        call.Arguments[1].Should().Be(2f);
        call.Arguments[2].Should().Be(cancellation.Token, "the receiver's token replaces the caller's");
        call.CancellationToken.Should().Be(cancellation.Token);
        result.AsSpan().SequenceEqual(values).Should().BeTrue();
        result.Should().NotBeSameAs(values);
    }

    [Fact]
    public void RecordsAndEnumsTravelAsJsonIntoTheirDeclaredTypes()
    {
        var sample = new Sample("lr-sweep", [4, 8], 0.5);

        var call = runtime.Codec.DecodeRequest(runtime.Codec.EncodeRequest(new GrainCall(Target, Describe, [sample, Phase.Warmup], default, TimeSpan.FromSeconds(1))).Span, default);

        call.Arguments[0].Should().BeEquivalentTo(sample);
        call.Arguments[1].Should().Be(Phase.Warmup);
    }

    [Fact]
    public void GrainReferencesTravelAsTheirIds()
    {
        var calculator = runtime.GrainFactory.GetGrain<ICalculatorGrain>(12);
        var method = Codec.GetMethod(typeof(ICodecGrain).GetMethod(nameof(ICodecGrain.Calculator))!);

        var decoded = runtime.Codec.DecodeResponse(method, runtime.Codec.EncodeResult(method, calculator).Span);

        decoded.Should().BeAssignableTo<ICalculatorGrain>().And.Be(calculator);
    }

    [Fact]
    public void KnownExceptionTypesAreRebuiltWithMessageAndRemoteStackTrace()
    {
        var thrown = Thrown(() => throw new ArgumentOutOfRangeException("rank", 9, "rank exceeds world size"));

        var rebuilt = FluentActions.Invoking(() => runtime.Codec.DecodeResponse(Echo, runtime.Codec.EncodeException(thrown).Span))
            .Should().Throw<ArgumentOutOfRangeException>().Which;

        rebuilt.Message.Should().Be(thrown.Message);
        rebuilt.StackTrace.Should().Contain(nameof(Thrown));
    }

    [Fact]
    public void OtherExceptionTypesBecomeGrainCallExceptionsNamingThem()
    {
        var thrown = Thrown(() => throw new RunDivergedException("loss is NaN at step 40"));

        var rebuilt = FluentActions.Invoking(() => runtime.Codec.DecodeResponse(Echo, runtime.Codec.EncodeException(thrown).Span))
            .Should().Throw<GrainCallException>().Which;

        rebuilt.RemoteType.Should().Be(typeof(RunDivergedException).FullName);
        rebuilt.RemoteMessage.Should().Be("loss is NaN at step 40");
        rebuilt.Message.Should().Be($"{typeof(RunDivergedException).FullName}: loss is NaN at step 40");
        rebuilt.RemoteStackTrace.Should().Contain(nameof(Thrown));

        // Passed on through another silo, it still names the original type.
        FluentActions.Invoking(() => runtime.Codec.DecodeResponse(Echo, runtime.Codec.EncodeException(rebuilt).Span))
            .Should().Throw<GrainCallException>().Which.RemoteType.Should().Be(typeof(RunDivergedException).FullName);
        FluentActions.Invoking(() => runtime.Codec.DecodeResponse(Echo, runtime.Codec.EncodeException(new GrainPlacementException("no worker")).Span))
            .Should().Throw<GrainPlacementException>().WithMessage("no worker");
    }

    [Fact]
    public void TruncatedOrMistypedPayloadsAreFormatErrors()
    {
        var request = runtime.Codec.EncodeRequest(new GrainCall(Target, Scale, [new[] { 1f, 2f }, 2f, CancellationToken.None], default, TimeSpan.FromSeconds(1)));
        var mistyped = runtime.Codec.EncodeRequest(new GrainCall(Target, Scale, [new[] { 1.0, 2.0 }, 2f, CancellationToken.None], default, TimeSpan.FromSeconds(1)));

        FluentActions.Invoking(() => runtime.Codec.DecodeRequest(request.Span[..^6], default)).Should().Throw<FormatException>().WithMessage("*truncated*");
        FluentActions.Invoking(() => runtime.Codec.DecodeRequest(mistyped.Span, default)).Should().Throw<FormatException>()
            .WithMessage("argument 0 of ICodecGrain.Scale is a Double[], not a Single[]");
        FluentActions.Invoking(() => runtime.Codec.DecodeResponse(Scale, runtime.Codec.EncodeResult(Echo, "text").Span)).Should().Throw<FormatException>()
            .WithMessage("result of ICodecGrain.Scale is a String, not a Single[]");
    }

    private static Exception Thrown(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            return e;
        }
        throw new InvalidOperationException("nothing was thrown");
    }
}
