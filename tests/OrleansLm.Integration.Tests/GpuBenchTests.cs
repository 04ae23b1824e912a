using System.Text.Json.Nodes;
using OrleansLm.Integration.Tests.Deployment;
using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// What bench/gpu.sh runs on the GPU machine, run here on the CPU: OrleansLm.GpuBench's throughput and losses commands,
/// bench/gpu_peer.py at the same shape, and the single file bench/gpu-pack.sh packs for the machine.
/// </summary>
public sealed class GpuBenchTests : IDisposable
{
    private const double PeakTflops = 0.25;
    private const int Batch = 3;
    private const int TimedSteps = 4;

    /// <summary>A shape small enough to train in well under a second, with a vocabulary and dimensions all different.</summary>
    private static readonly TransformerConfig Tiny = new(VocabularySize: 97, BlockSize: 16, Layers: 2, Heads: 4, ModelDimension: 32);

    private static readonly string[] TinyShape =
    [
        "--vocab", "97", "--block", "16", "--layers", "2", "--heads", "4", "--dim", "32", "--batch", $"{Batch}", "--warmup", "1", "--steps", $"{TimedSteps}",
    ];

    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    private readonly string directory = Directory.CreateTempSubdirectory("olm-gpubench-").FullName;

    [Theory]
    [InlineData("bf16")]
    [InlineData("fp32")]
    public async Task ThroughputReportsTheModelsFlopsPerTokenAndTheMfuOfItsTokensPerSecond(string precision)
    {
        var result = await GpuBenchAsync("throughput", [.. TinyShape, "--device", "cpu", "--precision", precision, "--peak-tflops", $"{PeakTflops}"]);

        using var model = new TransformerLm(Tiny);
        var flopsPerToken = Number(result, "flops_per_token");
        flopsPerToken.Should().Be(model.FlopsPerToken(Tiny.BlockSize));
        Number(result, "parameters").Should().Be(model.ParameterCount);
        var tokensPerSecond = Number(result, "tokens_per_second");
        tokensPerSecond.Should().BeApproximately(TimedSteps * Batch * Tiny.BlockSize / Number(result, "seconds"), 1e-9 * tokensPerSecond);
        Number(result, "mfu").Should().BeApproximately(tokensPerSecond * flopsPerToken / (PeakTflops * 1e12), 1e-12);
        Number(result, "step_ms").Should().BeApproximately(Number(result, "seconds") / TimedSteps * 1e3, 1e-9);
        // Uniform random tokens: a freshly initialised model (logits near 0) starts at about ln V, and training on one batch only lowers it.
        Number(result, "final_loss").Should().BeInRange(0, Math.Log(Tiny.VocabularySize) + 0.1);
        result["precision"]!.GetValue<string>().Should().Be(precision);
        result["device"]!.GetValue<string>().Should().Be("cpu");
    }

    [Fact]
    public async Task ThePyTorchPeerTrainsAModelWithTheSameParametersAndFlopsPerToken()
    {
        var ours = await GpuBenchAsync("throughput", [.. TinyShape, "--device", "cpu", "--precision", "fp32"]);
        var peerJson = Path.Combine(directory, "peer.json");
        using var limit = new CancellationTokenSource(Limit);
        await Tool.RunAsync("/usr/bin/python3",
            ["-E", "-s", Repository.PathOf("bench/gpu_peer.py"), .. TinyShape, "--device", "cpu", "--precision", "fp32", "--json", peerJson], limit.Token);
        var peer = JsonNode.Parse(await File.ReadAllTextAsync(peerJson))!.AsObject();

        Number(peer, "parameters").Should().Be(Number(ours, "parameters"));
        Number(peer, "flops_per_token").Should().Be(Number(ours, "flops_per_token"));
        peer.Select(field => field.Key).Should().BeEquivalentTo(ours.Select(field => field.Key), "both write the same JSON fields");
        double.IsFinite(Number(peer, "final_loss")).Should().BeTrue();
    }

    [Fact]
    public async Task LossesOnTheCpuAreTheSingleProcessTrainersAndFall()
    {
        const int steps = 12;
        var corpus = Path.Combine(directory, "corpus.txt");
        await File.WriteAllTextAsync(corpus, TrainingEquivalence.Corpus);
        var result = await GpuBenchAsync("losses", ["--device", "cpu", "--data", corpus, "--steps", $"{steps}"]);

        var losses = Losses(result);
        losses.Should().HaveCount(steps).And.OnlyContain(loss => double.IsFinite(loss));
        losses.TakeLast(3).Average().Should().BeLessThan(losses.Take(3).Average() - 0.1, "the run learns");
        var config = ConfigFile.FromJson<RunConfig>(result["run_config"]!.ToJsonString(), "run_config");
        config.Data.Path.Should().Be(corpus);
        config.TrainingOrDefault.Steps.Should().Be(steps);
        TrainingEquivalence.ShouldReproduceLosses(losses, TrainingEquivalence.SingleProcessLosses(config));
    }

    [Fact]
    public async Task LossesOnSyntheticTokensFallAndRepeatExactly()
    {
        var first = Losses(await GpuBenchAsync("losses", ["--device", "cpu"]));
        var second = Losses(await GpuBenchAsync("losses", ["--device", "cpu"]));

        first.Should().HaveCount(20).And.OnlyContain(loss => double.IsFinite(loss));
        first.TakeLast(3).Average().Should().BeLessThan(first.Take(3).Average() - 0.1, "the synthetic stream is learnable");
        second.Should().Equal(first, "a CPU run is deterministic, so that CUDA's losses can be held against it");
    }

    [Theory]
    [InlineData("throughput --batch 0", "--batch must be at least 1, not 0")]
    [InlineData("throughput --heads 5", "--dim (768) must be divisible by --heads (5)")]
    [InlineData("throughput --precision fp16", "--precision must be one of bf16, fp32, not 'fp16'")]
    [InlineData("throughput --peak-tflops -3", "--peak-tflops must be a positive number, not '-3'")]
    [InlineData("throughput --device tpu", "--device: unknown device 'tpu'")]
    [InlineData("throughput --steps", "--steps needs a value")]
    [InlineData("losses --data /nonexistent/corpus.txt", "--data /nonexistent/corpus.txt: no such file")]
    [InlineData("losses --batch 4", "unknown option '--batch'")]
    public async Task BadOptionsAreRefusedByName(string arguments, string message)
    {
        using var limit = new CancellationTokenSource(Limit);
        var result = await Tool.ResultOfAsync("dotnet", [GpuBenchDll, .. arguments.Split(' ')], limit.Token);

        result.ExitCode.Should().Be(2);
        result.Error.Should().Contain(message);
    }

    [Fact]
    public async Task CudaWithoutACudaShimIsRefusedNamingTheDevice()
    {
        if (LibTorch.IsCudaAvailable) return;  // the shim beside the tests sees a GPU: nothing to refuse
        using var limit = new CancellationTokenSource(Limit);
        var result = await Tool.ResultOfAsync("dotnet", [GpuBenchDll, "losses", "--device", "cuda"], limit.Token);

        result.ExitCode.Should().Be(2);
        result.Error.Should().Contain("--device cuda: this libolmtorch.so").And.Contain("sees no CUDA device");
    }

    [Fact]
    public async Task ThePackedSingleFileRunsWithTheShimFromTheLibraryPathAndFitsTheBudget()
    {
        var pack = Path.Combine(directory, "pack");
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var output = await Tool.RunAsync("bash", [Repository.PathOf("bench/gpu-pack.sh")], new Dictionary<string, string?> { ["PACK_DIR"] = pack },
            cancellation: limit.Token);

        var executable = Path.Combine(pack, "OrleansLm.GpuBench");
        Directory.GetFiles(pack).Should().Equal([executable], "the shim must not travel beside the executable, where .NET would load it first");
        var size = new FileInfo(executable).Length;
        size.Should().BeLessThan(56L << 20, "the device tool carries at most 64 MiB of working tree");
        output.Should().Contain($"{size} bytes");

        var json = Path.Combine(directory, "packed.json");
        await Tool.RunAsync(executable, ["throughput", .. TinyShape, "--device", "cpu", "--json", json],
            new Dictionary<string, string?> { ["LD_LIBRARY_PATH"] = AppContext.BaseDirectory }, cancellation: limit.Token);
        var result = JsonNode.Parse(await File.ReadAllTextAsync(json))!.AsObject();
        using var model = new TransformerLm(Tiny);
        Number(result, "flops_per_token").Should().Be(model.FlopsPerToken(Tiny.BlockSize));
        result["torch_version"]!.GetValue<string>().Should().Be(LibTorch.Version, "it loaded the shim from LD_LIBRARY_PATH");
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static string GpuBenchDll => Path.Combine(AppContext.BaseDirectory, "OrleansLm.GpuBench.dll");

    /// <summary>Runs a GpuBench command with --json and returns what it wrote.</summary>
    private async Task<JsonObject> GpuBenchAsync(string command, string[] arguments)
    {
        var json = Path.Combine(directory, $"{Guid.NewGuid():N}.json");
        using var limit = new CancellationTokenSource(Limit);
        await Tool.RunAsync("dotnet", [GpuBenchDll, command, .. arguments, "--json", json], limit.Token);
        return JsonNode.Parse(await File.ReadAllTextAsync(json))!.AsObject();
    }

    private static double Number(JsonObject result, string field) =>
        result[field]?.GetValue<double>() ?? throw new InvalidOperationException($"the result has no '{field}'");

    private static List<double> Losses(JsonObject result) => [.. result["losses"]!.AsArray().Select(loss => loss!.GetValue<double>())];
}
