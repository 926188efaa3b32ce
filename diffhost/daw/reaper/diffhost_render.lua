-- diffhost: render a sound and put it on the selected track at the edit cursor.
--
-- The prompt is the selected track's name ("808 bass", "tight snare", ...); for an
-- unnamed track (or with ASK_ALWAYS = true) a dialog asks for it. The request goes
-- to a running `diffhost serve` (or the diffhost GUI) over OSC through diffhost's
-- small Python client, which waits for /diffhost/job/done; this script polls for its
-- answer without blocking REAPER and then inserts the file with InsertMedia.
--
-- Install: see docs/osc.md ("REAPER"). In short: Actions > Show action list > New action >
-- Load ReaScript... and pick this file where it lies in the diffhost folder; it finds the
-- Python that scripts/setup.sh made (.venv) by itself.

-------------------------------------------------------------------- settings
-- The Python that has diffhost installed. Empty: found by itself, in this order:
--   1. the environment variable DIFFHOST_PYTHON,
--   2. the venv of the diffhost folder this script lies in (daw/reaper/ -> ../../.venv),
--   3. the venv of DIFFHOST_HOME (the diffhost folder), for a copy of this script elsewhere.
-- Or set it here, e.g.
--   macOS/Linux: "/Users/you/diffhost/.venv/bin/python"
--   Windows:     "C:\\Users\\you\\diffhost\\.venv\\Scripts\\python.exe"
local PYTHON = ""
local HOST = os.getenv("DIFFHOST_OSC_HOST") or "127.0.0.1"       -- where diffhost listens
local PORT = tonumber(os.getenv("DIFFHOST_OSC_PORT") or "") or 12000
local LENGTH_S = 0                       -- seconds; 0 = diffhost's current length
local ASK_ALWAYS = false                 -- true: always show the prompt dialog
local TIMEOUT_S = tonumber(os.getenv("DIFFHOST_TIMEOUT_S") or "") or 300  -- give up after this long
-----------------------------------------------------------------------------

local TITLE = "diffhost render"
local WINDOWS = package.config:sub(1, 1) == "\\"

local function exists(path)
  local f = path and io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function venv_python(root)  -- the interpreter scripts/setup.sh puts in ROOT/.venv
  if not root or root == "" then return nil end
  root = root:gsub("[/\\]+$", "")
  local candidates = WINDOWS and { root .. "\\.venv\\Scripts\\python.exe" }
    or { root .. "/.venv/bin/python", root .. "/.venv/bin/python3" }
  for _, c in ipairs(candidates) do
    if exists(c) then return c end
  end
  return nil
end

-- Where to look, and the first Python found (nil: none).
local function find_python()
  local looked = {}
  local function try(label, path, shown)
    looked[#looked + 1] = label .. ": " .. tostring(path or shown or "(not set)")
    if path and path ~= "" and exists(path) then return path end
  end
  local here = (debug.getinfo(1, "S").source or ""):match("^@(.*)[/\\][^/\\]*$")
  local repo = here and here:match("^(.*)[/\\]daw[/\\]reaper$")
  local home = os.getenv("DIFFHOST_HOME")
  return try("DIFFHOST_PYTHON", os.getenv("DIFFHOST_PYTHON"))
    or try("PYTHON in this script", PYTHON ~= "" and PYTHON or nil)
    or try("the .venv of this script's diffhost folder", venv_python(repo), repo and (repo .. "/.venv (none)"))
    or try("the .venv of DIFFHOST_HOME", venv_python(home), home and (home .. "/.venv (none)")),
    looked
end

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

local python, looked = find_python()
if not python then
  reaper.ShowMessageBox("Cannot find diffhost's Python. Looked at:\n  " .. table.concat(looked, "\n  ") ..
    "\n\nRun scripts/setup.sh in the diffhost folder, or set PYTHON at the top of\n" ..
    "this script to diffhost's .venv Python.", TITLE, 0)
  return
end
-- Once per interpreter (remembered by REAPER): does it have diffhost? A bare python3 does not, and
-- would otherwise fail in silence until the timeout.
if reaper.GetExtState("diffhost", "python_ok") ~= python then
  local out = reaper.ExecProcess('"' .. python .. '" -c "import diffhost.osc.client"', 20000) or ""
  local rc, text = out:match("^(%-?%d+)\n?(.*)$")
  if rc ~= "0" then
    reaper.ShowMessageBox(python .. " cannot run diffhost's client (python -m diffhost.osc.client):\n" ..
      ((text or out):gsub("%s+$", ""):match("[^\n]*$") or "") ..
      "\n\nSet PYTHON at the top of this script to diffhost's .venv Python.", TITLE, 0)
    return
  end
  reaper.SetExtState("diffhost", "python_ok", python, false)
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
  q(python), "-m", "diffhost.osc.client", "--host", q(HOST), "--port", tostring(PORT),
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
