using System.CommandLine;
using OrleansLm.Cli;

var root = new RootCommand("olm: train language models and sample from them, here or on an OrleansLm cluster")
{
    TrainCommand.Create(),
    RunCommand.Create(),
    ModelsCommand.Create(),
    SampleCommand.Create(),
    ScoreCommand.Create(),
    HealthCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
