using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests.Training;

/// <summary>training.device, training.precision and training.tf32: how they read, resolve and fail.</summary>
public class TrainingDeviceTests
{
    [Theory]
    [InlineData("cpu", 0, null, "cpu")]
    [InlineData("cpu", 2, 1, "cpu")]
    [InlineData("auto", 0, null, "cpu")]
    [InlineData("auto", 2, null, "cuda:0")]
    [InlineData("auto", 2, 1, "cuda:1")]
    [InlineData("cuda", 1, null, "cuda:0")]
    [InlineData("cuda", 4, 3, "cuda:3")]
    [InlineData(" CUDA:1 ", 2, 0, "cuda:1")]
    public void ASettingResolvesToTheDeviceItNamesOnThisMachine(string setting, int gpus, int? claimed, string expected) =>
        TrainingDevices.Resolve(setting, gpus, claimed).ToString().Should().Be(expected);

    [Theory]
    [InlineData("cuda", 0, "training.device: cuda needs a CUDA device, but this libtorch sees none*")]
    [InlineData("cuda:0", 0, "training.device: cuda:0 needs a CUDA device*")]
    [InlineData("cuda:2", 2, "training.device: cuda:2 names GPU 2, but this machine has 2 (cuda:0 … cuda:1)")]
    [InlineData("gpu", 2, "training.device: 'gpu' is not a device: expected cpu, cuda, cuda:N or auto")]
    [InlineData("cuda:-1", 2, "training.device: 'cuda:-1' is not a device*")]
    public void ASettingThisMachineCannotHonourIsRefusedNamingTheField(string setting, int gpus, string message) =>
        FluentActions.Invoking(() => TrainingDevices.Resolve(setting, gpus)).Should().Throw<ConfigException>().WithMessage(message);

    [Fact]
    public void TheTrainingSectionReadsDevicePrecisionAndTf32()
    {
        var training = Config("device: cuda:1\n  precision: bf16\n  tf32: true").TrainingOrDefault;
        training.Device.Should().Be("cuda:1");
        training.Precision.Should().Be(Precision.Bf16);
        training.Tf32.Should().BeTrue();
        training.ToOptions(null).Precision.Should().Be(Precision.Bf16);

        var defaults = Config("seed: 5").TrainingOrDefault;
        (defaults.Device, defaults.Precision, defaults.Tf32).Should().Be(("cpu", Precision.Fp32, false));
    }

    [Theory]
    [InlineData("device: tpu", "*training.device: 'tpu' is not a device*")]
    [InlineData("precision: fp8", "*'training.precision'*")]
    [InlineData("tf32: sometimes", "*'training.tf32'*")]
    public void AMalformedSettingFailsTheConfigurationNamingTheField(string line, string message) =>
        FluentActions.Invoking(() => Config(line)).Should().Throw<ConfigException>().WithMessage(message);

    [Fact]
    public void APlainMachineTrainsOnTheCpuUnderAutoAndRefusesCuda()
    {
        // On a machine with a GPU, auto picks the first.
        var auto = TrainingDevices.Prepare(Config("device: auto").TrainingOrDefault);
        auto.Should().Be(LibTorch.IsCudaAvailable ? Device.Cuda(0) : Device.Cpu);
        if (!LibTorch.IsCudaAvailable)
            FluentActions.Invoking(() => TrainingDevices.Prepare(Config("device: cuda").TrainingOrDefault))
                .Should().Throw<ConfigException>().WithMessage("training.device: cuda needs a CUDA device*");
    }

    private static RunConfig Config(string trainingLines) => ConfigFile.Parse<RunConfig>($"""
        data:
          path: corpus.txt
        training:
          {trainingLines}
        """);
}
