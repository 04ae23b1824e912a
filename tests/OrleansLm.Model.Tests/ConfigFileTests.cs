using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests;

public class ConfigFileTests
{
    public enum Family { Transformer, Lstm }

    public sealed record OptimizerSection(string Name = "adamw", double LearningRate = 1e-3, double[]? Betas = null);

    public sealed record SampleConfig(string RunName, Family Model = Family.Transformer, int Steps = 100, OptimizerSection? Optimizer = null)
        : IValidatableConfig
    {
        public void Validate() => ConfigFile.Require(Steps > 0, "steps", $"must be positive, got {Steps}");
    }

    [Fact]
    public void BindsSnakeCaseFieldsWithTypesAndDefaults()
    {
        var config = ConfigFile.Parse<SampleConfig>("""
            run_name: shakespeare
            model: lstm
            optimizer:
              learning_rate: 3e-4
              betas: [0.9, 0.99]
            """);
        config.RunName.Should().Be("shakespeare");
        config.Model.Should().Be(Family.Lstm);
        config.Steps.Should().Be(100);
        config.Optimizer!.Name.Should().Be("adamw");
        config.Optimizer.LearningRate.Should().Be(3e-4);
        config.Optimizer.Betas.Should().Equal(0.9, 0.99);
    }

    [Theory]
    [InlineData("run_name: x\nstepz: 5", "config: unknown field 'stepz'")]
    [InlineData("run_name: x\noptimizer:\n  learning_rat: 0.1", "config: unknown field 'optimizer.learning_rat'")]
    [InlineData("run_name: x\nsteps: many", "config: field 'steps' has a value of the wrong type*")]
    [InlineData("run_name: x\nmodel: gpt7", "*field 'model'*")]
    [InlineData("steps: 5", "config: missing required field 'run_name'")]
    [InlineData("run_name: x\nsteps: 0", "steps: must be positive, got 0")]
    [InlineData("run_name: [unclosed", "*not valid YAML at line 2, column 1*")]
    [InlineData("- just\n- a list", "*mapping of fields*")]
    public void BadConfigsNameTheOffendingField(string yaml, string expected)
    {
        var parse = () => ConfigFile.Parse<SampleConfig>(yaml);
        parse.Should().Throw<ConfigException>().WithMessage(expected);
    }

    [Fact]
    public void QuotedScalarsStayStrings()
    {
        var config = ConfigFile.Parse<SampleConfig>("run_name: '2024'");
        config.RunName.Should().Be("2024");
    }

    [Fact]
    public void AMissingFileIsAConfigError()
    {
        var load = () => ConfigFile.Load<SampleConfig>("/nonexistent/run.yaml");
        load.Should().Throw<ConfigException>().WithMessage("*/nonexistent/run.yaml*");
    }
}
