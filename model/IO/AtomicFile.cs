using System.Text;

namespace OrleansLm.Model.IO;

/// <summary>
/// Whole-file writes that a crash cannot tear: the content goes to a temporary file beside the target, is
/// flushed to disk and renamed over the target, so readers see the old file or the new one, never a mix.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes what <paramref name="write"/> puts in the stream to <paramref name="path"/>; a failure leaves the old file intact.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        // Same directory, so the rename stays within one file system and is atomic.
        var temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary><paramref name="text"/> as UTF-8 without a byte-order mark, as <see cref="File.WriteAllText(string, string)"/> writes it.</summary>
    public static void WriteAllText(string path, string text) => Write(path, file => file.Write(Encoding.UTF8.GetBytes(text)));
}
