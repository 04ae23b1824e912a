using System.CommandLine;
using OrleansLm.Cli;
using OrleansLm.Cli.Scaling;

var root = new RootCommand("olm: train language models and sample from them, here or on an OrleansLm cluster")
{
    TrainCommand.Create(),
    RunCommand.Create(),
    SweepCommand.Create(),
    CurveCommand.Create(),
    ModelsCommand.Create(),
    SampleCommand.Create(),
    ScoreCommand.Create(),
    HealthCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
