namespace Portal.Web.Features.Operations;

/// <summary>The container's health probe: asks a health endpoint and turns the answer into an exit code.</summary>
public static class Health
{
    /// <summary>0 when the endpoint answers 2xx within 3 s, 1 otherwise.</summary>
    public static async Task<int> ProbeAsync(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = await http.GetAsync(new Uri(url));
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            await Console.Error.WriteLineAsync($"health check of {url} failed: {ex.Message}");
            return 1;
        }
    }
}
