-- diffhost: render a sound and put it on the selected track at the edit cursor.
--
-- The prompt is the selected track's name ("808 bass", "tight snare", ...); for an
-- unnamed track (or with ASK_ALWAYS = true) a dialog asks for it. The request goes
-- to a running `diffhost serve` (or the diffhost GUI) over OSC through diffhost's
-- small Python client, which waits for /diffhost/job/done; this script polls for its
-- answer without blocking REAPER and then inserts the file with InsertMedia.
--
-- Install: see docs/osc.md ("REAPER"). In short: set PYTHON below, then
-- Actions > Show action list > New action > Load ReaScript... and pick this file.

-------------------------------------------------------------------- settings
-- The Python that has diffhost installed: the venv made by scripts/setup.sh.
--   macOS/Linux: "/Users/you/diffhost/.venv/bin/python"
--   Windows:     "C:\\Users\\you\\diffhost\\.venv\\Scripts\\python.exe"
-- (Environment variables of the same name override these, for setups that export them.)
local PYTHON = os.getenv("DIFFHOST_PYTHON") or "python3"
local HOST = os.getenv("DIFFHOST_OSC_HOST") or "127.0.0.1"       -- where diffhost listens
local PORT = tonumber(os.getenv("DIFFHOST_OSC_PORT") or "") or 12000
local LENGTH_S = 0                       -- seconds; 0 = diffhost's current length
local ASK_ALWAYS = false                 -- true: always show the prompt dialog
local TIMEOUT_S = tonumber(os.getenv("DIFFHOST_TIMEOUT_S") or "") or 300  -- give up after this long
-----------------------------------------------------------------------------

local TITLE = "diffhost render"

local function temp_dir()
  local dir = reaper.GetResourcePath() .. "/diffhost"
  reaper.RecursiveCreateDirectory(dir, 0)
  return dir
end

local function q(s)  -- one argument, double-quoted (REAPER's ExecProcess and Windows both honour this)
  return '"' .. tostring(s):gsub('"', '\\"') .. '"'
end

local function read_result(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local fields = {}
  for line in f:lines() do
    local k, v = line:match("^([%w_]+)=(.*)$")
    if k then fields[k] = v end
  end
  f:close()
  return fields
end

local function ask_prompt(default)
  local ok, csv = reaper.GetUserInputs(TITLE, 2,
    "Prompt:,Length (s; 0 = current):,extrawidth=240,separator=|",
    (default or "") .. "|" .. tostring(LENGTH_S))
  if not ok then return nil end
  local prompt, length = csv:match("^(.-)|(.*)$")
  return prompt, tonumber(length) or LENGTH_S
end

local track = reaper.GetSelectedTrack(0, 0)
if not track then
  reaper.ShowMessageBox("Select the track the sound should go on first.", TITLE, 0)
  return
end

local _, name = reaper.GetTrackName(track)
local prompt, length = name, LENGTH_S
if ASK_ALWAYS or name == "" or name:match("^Track %d+$") then
  prompt, length = ask_prompt(name:match("^Track %d+$") and "" or name)
  if not prompt then return end
end

local cursor = reaper.GetCursorPosition()   -- where the sound goes, even if the cursor moves meanwhile
local stamp = tostring(math.floor(reaper.time_precise() * 1000))
local dir = temp_dir()
local prompt_file = dir .. "/prompt-" .. stamp .. ".txt"
local result_file = dir .. "/result-" .. stamp .. ".txt"

local f = io.open(prompt_file, "w")
if not f then
  reaper.ShowMessageBox("Cannot write " .. prompt_file, TITLE, 0)
  return
end
f:write(prompt)
f:close()

local cmd = table.concat({
  q(PYTHON), "-m", "diffhost.osc.client", "--host", q(HOST), "--port", tostring(PORT),
  "render", "--prompt-file", q(prompt_file), "--length", tostring(length),
  "--timeout", tostring(TIMEOUT_S), "--result-file", q(result_file),
}, " ")
reaper.ExecProcess(cmd, -2)  -- -2: do not wait (REAPER stays responsive), no console window

local started = reaper.time_precise()

local function finish(fields)
  os.remove(prompt_file)
  os.remove(result_file)
  if not fields or fields.status ~= "done" then
    local why = fields and (fields.message or fields.status) or "no answer"
    reaper.ShowMessageBox("diffhost could not render \"" .. prompt .. "\":\n" .. why ..
      "\n\nIs `diffhost serve` running on " .. HOST .. ":" .. PORT .. "?", TITLE, 0)
    return
  end
  if not reaper.ValidatePtr(track, "MediaTrack*") then
    reaper.ShowMessageBox("The track was deleted; the render is at\n" .. fields.path, TITLE, 0)
    return
  end
  reaper.Undo_BeginBlock()
  reaper.PreventUIRefresh(1)
  reaper.SetOnlyTrackSelected(track)
  reaper.Main_OnCommand(40914, 0)            -- Track: Set first selected track as last touched track
  reaper.SetEditCurPos(cursor, false, false)
  reaper.InsertMedia(fields.path, 0)         -- 0: add to the current track at the edit cursor
  reaper.PreventUIRefresh(-1)
  reaper.UpdateArrange()
  reaper.Undo_EndBlock("diffhost: insert \"" .. prompt .. "\"", -1)
end

local function poll()
  local fields = read_result(result_file)
  if fields and fields.status then
    finish(fields)
  elseif reaper.time_precise() - started > TIMEOUT_S + 15 then
    finish({ status = "timeout", message = "no answer within " .. TIMEOUT_S .. " s" })
  else
    reaper.defer(poll)
  end
end

reaper.defer(poll)
