using Microsoft.Playwright;

namespace Portal.Testing;

/// <summary>Launches Debian's Chromium through Playwright (never a downloaded browser).</summary>
public static class Chromium
{
    /// <summary>Where Debian's package puts Chromium.</summary>
    public const string ExecutablePath = "/usr/bin/chromium";

    /// <summary>Starts a headless Chromium.</summary>
    public static Task<IBrowser> LaunchAsync(IPlaywright playwright, params string[] extraArguments) =>
        LaunchAsync(playwright, ExecutablePath, extraArguments);

    /// <summary>Starts a headless Chromium through a wrapper (e.g. one that runs it inside a network namespace).</summary>
    public static async Task<IBrowser> LaunchAsync(IPlaywright playwright, string executablePath, params string[] extraArguments)
    {
        ArgumentNullException.ThrowIfNull(playwright);
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"Chromium is not installed at {ExecutablePath}: run `apt-get install -y chromium` (the README's test command does).");
        }

        return await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executablePath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic", .. extraArguments,
            ],
        });
    }
}
