namespace Portal.Testing;

/// <summary>
/// Temporary folders for test files (certificates and their private keys, proxy configurations), removed when the
/// test process exits, so runs do not leave keys behind in the temp directory.
/// </summary>
public static class TempFolder
{
    private static readonly System.Collections.Concurrent.ConcurrentBag<string> Created = [];

    static TempFolder() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var folder in Created)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Best effort: a folder a server still holds is left to the temp directory's cleaning.
            }
        }
    };

    /// <summary>Creates an empty folder named <paramref name="prefix"/> plus a random suffix.</summary>
    public static string Create(string prefix)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        Created.Add(folder);
        return folder;
    }
}
